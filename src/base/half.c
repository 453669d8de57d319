/* IEEE-754 binary16 and bfloat16 conversions, bit-exact with the hardware
 * F16C instructions (round to nearest even) so scalar and SIMD paths agree. */
#include "slm/base.h"

#include <pthread.h>
#include <string.h>

float slm_f16_table[65536];

static uint32_t f32_bits(float f) { uint32_t u; memcpy(&u, &f, 4); return u; }
static float bits_f32(uint32_t u) { float f; memcpy(&f, &u, 4); return f; }

static float f16_to_f32_compute(slm_f16 h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    uint32_t exp = (h >> 10) & 0x1f;
    uint32_t man = h & 0x3ff;
    if (exp == 0x1f) return bits_f32(sign | 0x7f800000u | (man << 13)); /* inf/nan */
    if (exp == 0) {
        if (man == 0) return bits_f32(sign);
        /* subnormal: value = man * 2^-24 */
        float v = (float)man * 5.9604644775390625e-8f;
        return sign ? -v : v;
    }
    return bits_f32(sign | ((exp + 112) << 23) | (man << 13));
}

static void build_table(void) {
    for (uint32_t i = 0; i < 65536; i++) slm_f16_table[i] = f16_to_f32_compute((slm_f16)i);
}

static pthread_once_t table_once = PTHREAD_ONCE_INIT;
void slm_base_init(void) { pthread_once(&table_once, build_table); }

float slm_f16_to_f32(slm_f16 h) { return f16_to_f32_compute(h); }

slm_f16 slm_f32_to_f16(float f) {
    uint32_t x = f32_bits(f);
    uint32_t sign = (x >> 16) & 0x8000;
    uint32_t absx = x & 0x7fffffffu;
    if (absx > 0x7f800000u) return (slm_f16)(sign | 0x7e00 | ((absx >> 13) & 0x3ff)); /* NaN */
    if (absx >= 0x477ff000u) return (slm_f16)(sign | 0x7c00); /* overflow -> inf */
    if (absx < 0x38800000u) {
        /* result is subnormal or zero: shift mantissa with rounding */
        if (absx < 0x33000000u) return (slm_f16)sign; /* < 2^-25 rounds to 0 */
        uint32_t e = absx >> 23;
        uint32_t m = (absx & 0x7fffff) | 0x800000;
        uint32_t shift = 126 - e; /* 14..24 */
        uint32_t half = m >> shift;
        uint32_t rem = m & ((1u << shift) - 1);
        uint32_t mid = 1u << (shift - 1);
        if (rem > mid || (rem == mid && (half & 1))) half++;
        return (slm_f16)(sign | half);
    }
    uint32_t r = absx - 0x38000000u; /* rebias exponent 127 -> 15 */
    uint32_t half = r >> 13;
    uint32_t rem = r & 0x1fff;
    if (rem > 0x1000 || (rem == 0x1000 && (half & 1))) half++;
    return (slm_f16)(sign | half);
}

slm_bf16 slm_f32_to_bf16(float f) {
    uint32_t u = f32_bits(f);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (slm_bf16)((u >> 16) | 64); /* quiet NaN */
    return (slm_bf16)((u + (0x7fff + ((u >> 16) & 1))) >> 16);
}
