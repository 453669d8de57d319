/* Personal-data detectors for the sensitivity policy: emails, phone
 * numbers, credit-card numbers (Luhn), IBANs (ISO 13616 mod-97), national
 * ID patterns (US SSN, UK National Insurance number) and configured custom
 * regexes. Regex detectors are compiled once per process (pthread_once);
 * cards and IBANs are scanned by hand because their check digits, not their
 * shape, are what tells them apart from other numbers. */
#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "router/router_internal.h"

enum { RX_EMAIL, RX_PHONE, RX_SSN, RX_NINO, N_RX };

static const char *const RX_SRC[N_RX] = {
    [RX_EMAIL] = "[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\\.[A-Za-z0-9-]+)*\\.[A-Za-z]{2,}",
    /* +CC with 7..14 more digits, or a North American 3-3-4 number */
    [RX_PHONE] = ("(?<![\\w+])\\+[1-9](?:[ .-]?\\(?[0-9]\\)?){7,14}(?![0-9])|"
                  "(?<![\\w-])\\(?[2-9][0-9]{2}\\)?[ .-][0-9]{3}[ .-][0-9]{4}(?![\\w-])"),
    [RX_SSN] = "(?<![\\w-])(?!000|666|9)[0-9]{3}-(?!00)[0-9]{2}-(?!0000)[0-9]{4}(?![\\w-])",
    [RX_NINO] = "\\b(?![DFIQUV])[A-CEGHJ-PR-TW-Z](?![DFIQUVO])[A-CEGHJ-NPR-TW-Z] ?[0-9]{2} ?[0-9]{2} ?[0-9]{2} ?[A-D]\\b",
};

static void *g_rx[N_RX];
static pthread_once_t g_once = PTHREAD_ONCE_INIT;

static void compile_all(void) {
    char why[320];
    for (int i = 0; i < N_RX; i++) g_rx[i] = rt_regex_compile(RX_SRC[i], false, why, sizeof why);
}

bool slm_luhn_ok(const char *digits, size_t n) {
    int sum = 0;
    bool nonzero = false;
    for (size_t i = 0; i < n; i++) {
        int d = digits[n - 1 - i] - '0';
        if (d < 0 || d > 9) return false;
        nonzero |= d != 0;
        if (i % 2 == 1) d = d * 2 > 9 ? d * 2 - 9 : d * 2;
        sum += d;
    }
    return nonzero && n > 0 && sum % 10 == 0;
}

/* Card numbers: 13..19 digits, optionally grouped by single spaces or
 * dashes, passing Luhn. */
static bool scan_cards(const char *t, size_t len) {
    for (size_t i = 0; i < len; i++) {
        if (!isdigit((unsigned char)t[i]) || (i > 0 && isalnum((unsigned char)t[i - 1]))) continue;
        char d[20];
        size_t nd = 0, j = i;
        while (j < len && nd < sizeof d) {
            if (isdigit((unsigned char)t[j])) d[nd++] = t[j++];
            else if ((t[j] == ' ' || t[j] == '-') && j + 1 < len && isdigit((unsigned char)t[j + 1])) j++;
            else break;
        }
        bool ends = j >= len || !isalnum((unsigned char)t[j]);
        if (ends && nd >= 13 && nd <= 19 && slm_luhn_ok(d, nd)) return true;
        i = j;
    }
    return false;
}

bool slm_iban_ok(const char *s, size_t n) {
    if (n < 15 || n > 34) return false;
    if (!isupper((unsigned char)s[0]) || !isupper((unsigned char)s[1])) return false;
    if (!isdigit((unsigned char)s[2]) || !isdigit((unsigned char)s[3])) return false;
    /* move the first four characters to the end, letters -> 10..35, mod 97 */
    unsigned rem = 0;
    for (size_t k = 0; k < n; k++) {
        unsigned char ch = (unsigned char)s[(k + 4) % n];
        if (isdigit(ch)) rem = (rem * 10 + (ch - '0')) % 97;
        else if (isupper(ch)) rem = (rem * 100 + (ch - 'A' + 10)) % 97;
        else return false;
    }
    return rem == 1;
}

/* IBANs: compact, or printed in groups of four separated by one space. */
static bool scan_ibans(const char *t, size_t len) {
    for (size_t i = 0; i + 4 <= len; i++) {
        if (i > 0 && isalnum((unsigned char)t[i - 1])) continue;
        if (!isupper((unsigned char)t[i]) || !isupper((unsigned char)t[i + 1])) continue;
        char s[40];
        size_t n = 0, j = i, group = 0, before_last = 0;
        while (j < len && n < 34) {
            unsigned char ch = (unsigned char)t[j];
            if (isdigit(ch) || isupper(ch)) {
                s[n++] = (char)ch;
                group++;
                j++;
            } else if (ch == ' ' && group == 4 && j + 1 < len && isalnum((unsigned char)t[j + 1])) {
                before_last = n;
                group = 0;
                j++;
            } else break;
        }
        /* the last group may be a following word: try with and without it */
        if (slm_iban_ok(s, n) || (before_last && slm_iban_ok(s, before_last))) return true;
    }
    return false;
}

unsigned slm_pii_scan(const slm_route_pii *p, const char *text, size_t len) {
    pthread_once(&g_once, compile_all);
    unsigned found = 0;
    if (p->email && rt_regex_match(g_rx[RX_EMAIL], text, len)) found |= SLM_PII_EMAIL;
    if (p->phone && rt_regex_match(g_rx[RX_PHONE], text, len)) found |= SLM_PII_PHONE;
    if (p->credit_card && scan_cards(text, len)) found |= SLM_PII_CARD;
    if (p->iban && scan_ibans(text, len)) found |= SLM_PII_IBAN;
    if (p->national_id &&
        (rt_regex_match(g_rx[RX_SSN], text, len) || rt_regex_match(g_rx[RX_NINO], text, len)))
        found |= SLM_PII_NATIONAL_ID;
    for (int i = 0; i < p->n_custom; i++)
        if (rt_regex_match(p->custom[i].code, text, len)) found |= SLM_PII_CUSTOM;
    return found;
}

void slm_pii_names(unsigned bits, char *out, size_t cap) {
    static const char *const names[] = {"email", "phone", "credit_card", "iban", "national_id", "custom"};
    size_t at = 0;
    if (cap) out[0] = '\0';
    for (int i = 0; i < 6; i++) {
        if (!(bits & (1u << i))) continue;
        int w = snprintf(out + at, cap > at ? cap - at : 0, "%s%s", at ? "," : "", names[i]);
        if (w < 0 || (size_t)w >= cap - at) break;
        at += (size_t)w;
    }
}
