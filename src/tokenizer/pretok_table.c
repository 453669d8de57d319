/* The BPE pre-tokenizers llama.cpp knows, by tokenizer.ggml.pre name: the
 * regexes it runs (in order, each splitting the pieces the previous one
 * left) and the flags it sets. Patterns are llama.cpp's adapted forms (for
 * example case-insensitive contractions spelled out as '[sS]), so they
 * behave identically; pretok.c turns \s into llama.cpp's whitespace set. */
#include <string.h>

#include "tokenizer/pretok_table.h"

#define CONTRACTIONS "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])"
#define GPT2_RE "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)"
#define LLAMA3_RE CONTRACTIONS "|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"
#define QWEN2_RE CONTRACTIONS "|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"
#define UPPER_LA "((?=[\\p{L}])([^a-z]))"
#define LOWER_LA "((?=[\\p{L}])([^A-Z]))"
/* generated from llama.cpp's literal character classes (UTF-8) */
#define DSLLM "\\s?[A-Za-z\xc2\xb5\xc3\x80-\xc3\x96\xc3\x98-\xc3\xb6\xc3\xb8-\xc6\xba\xc6\xbc-\xc6\xbf\xc7\x84-\xca\x93\xca\x95-\xca\xaf\xcd\xb0-\xcd\xb3\xcd\xb6\xcd\xb7\xcd\xbb-\xcd\xbd\xcd\xbf\xce\x86\xce\x88-\xce\x8a\xce\x8c\xce\x8e-\xce\xa1\xce\xa3-\xcf\xb5\xcf\xb7-\xd2\x81\xd2\x8a-\xd4\xaf\xd4\xb1-\xd5\x96\xe1\x82\xa0-\xe1\x83\x85\xe1\x8e\xa0-\xe1\x8f\xb5\xe1\x8f\xb8-\xe1\x8f\xbd\xe1\xb2\x90-\xe1\xb2\xba\xe1\xb2\xbd-\xe1\xb2\xbf\xe1\xb4\x80-\xe1\xb4\xab\xe1\xb5\xab-\xe1\xb5\xb7\xe1\xb5\xb9-\xe1\xb6\x9a\xe1\xb8\x80-\xe1\xbc\x95\xe1\xbc\x98-\xe1\xbc\x9d\xe1\xbc\xa0-\xe1\xbd\x85\xe1\xbd\x88-\xe1\xbd\x8d\xe1\xbd\x90-\xe1\xbd\x97\xe1\xbd\x99\xe1\xbd\x9b\xe1\xbd\x9d\xe1\xbd\x9f-\xe1\xbd\xbd\xe1\xbe\x80-\xe1\xbe\xb4\xe1\xbe\xb6-\xe1\xbe\xbc\xe1\xbe\xbe\xe1\xbf\x82-\xe1\xbf\x84\xe1\xbf\x86-\xe1\xbf\x8c\xe1\xbf\x90-\xe1\xbf\x93\xe1\xbf\x96-\xe1\xbf\x9b\xe1\xbf\xa0-\xe1\xbf\xac\xe1\xbf\xb2-\xe1\xbf\xb4\xe1\xbf\xb6-\xe1\xbf\xbc\xe2\x84\x82\xe2\x84\x87\xe2\x84\x8a-\xe2\x84\x93\xe2\x84\x95\xe2\x84\x99-\xe2\x84\x9d\xe2\x84\xa4\xe2\x84\xa6\xe2\x84\xa8\xe2\x84\xaa-\xe2\x84\xad\xe2\x84\xaf-\xe2\x84\xb4\xe2\x84\xb9\xe2\x84\xbc-\xe2\x84\xbf\xe2\x85\x85-\xe2\x85\x89\xe2\x85\x8e\xe2\x86\x83\xe2\x86\x84\xe2\xb0\x80-\xe2\xb1\xbb\xe2\xb1\xbe-\xe2\xb3\xa4\xe2\xb3\xab-\xe2\xb3\xae\xe2\xb3\xb2\xe2\xb3\xb3\xea\x99\x80-\xea\x99\xad\xea\x9a\x80-\xea\x9a\x9b\xea\x9c\xa2-\xea\x9d\xaf\xea\x9d\xb1-\xea\x9e\x87\xea\x9e\x8b-\xea\x9e\x8e\xea\xad\xb0-\xea\xae\xbf\xef\xac\x80-\xef\xac\x86\xef\xac\x93-\xef\xac\x97\xef\xbc\xa1-\xef\xbc\xba\xef\xbd\x81-\xef\xbd\x9a\xf0\x90\x90\x80-\xf0\x90\x91\x8f\xf0\x90\x92\xb0-\xf0\x90\x93\x93\xf0\x90\x93\x98-\xf0\x90\x93\xbb\xf0\x90\xb2\x80-\xf0\x90\xb2\xb2\xf0\x90\xb3\x80-\xf0\x90\xb3\xb2\xf0\x91\xa2\xa0-\xf0\x91\xa3\x9f\xf0\x9e\xa4\x80-\xf0\x9e\xa5\x83]+"
#define DSPUNCT "\\s?[!-/:-~\xef\xbc\x81-\xef\xbc\x8f\xef\xbc\x9a-\xef\xbd\x9e\xe2\x80\x98-\xe2\x80\x9f\xe3\x80\x80-\xe3\x80\x82]+"
#define CJK "[\xe4\xb8\x80-\xe9\xbe\xa5\xe0\xa0\x80-\xe4\xb8\x80\xea\xb0\x80-\xed\x9f\xbf]+"
#define KANA "[\xe4\xb8\x80-\xe9\xbe\xa5\xe3\x81\x80-\xe3\x82\x9f\xe3\x82\xa0-\xe3\x83\xbf]+"
#define PORO " ?[^(\\s|.,!?\xe2\x80\xa6\xe3\x80\x82\xef\xbc\x8c\xe3\x80\x81\xe0\xa5\xa4\xdb\x94\xd8\x8c)]+"

static const char *const re_default[] = {
    "[\\p{P}\\$\\+<=>\\^~\\|]+", GPT2_RE, "\\p{N}+", "[0-9][0-9][0-9]", NULL};
static const char *const re_gpt2[] = {GPT2_RE, NULL};
static const char *const re_llama3[] = {LLAMA3_RE, NULL};
static const char *const re_qwen2[] = {QWEN2_RE, NULL};
static const char *const re_starcoder[] = {"\\p{N}", GPT2_RE, NULL};
static const char *const re_falcon[] = {"[\\p{P}\\$\\+<=>\\^~\\|`]+", GPT2_RE, "[0-9][0-9][0-9]", NULL};
static const char *const re_deepseek_coder[] = {"[\r\n]", "\\s?\\p{L}+", "\\s?\\p{P}+", CJK, "\\p{N}", NULL};
static const char *const re_deepseek_llm[] = {"[\r\n]", DSLLM, DSPUNCT, "\\s+$", CJK, "\\p{N}+", NULL};
#define DS3_MAIN "[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\r\n\\p{L}\\p{P}\\p{S}]?[\\p{L}\\p{M}]+| ?[\\p{P}\\p{S}]+[\r\n]*|\\s*[\r\n]+|\\s+(?!\\S)|\\s+"
static const char *const re_deepseek3[] = {"\\p{N}{1,3}", KANA, DS3_MAIN, NULL};
static const char *const re_qwen35[] = {
    CONTRACTIONS "|[^\\r\\n\\p{L}\\p{N}]?[\\p{L}\\p{M}]+|\\p{N}| ?[^\\s\\p{L}\\p{M}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+", NULL};
static const char *const re_poro[] = {PORO, NULL};
static const char *const re_viking[] = {PORO, "\\p{N}", NULL};
static const char *const re_tekken[] = {
    "[^\\r\\n\\p{L}\\p{N}]?" UPPER_LA "*" LOWER_LA "+|[^\\r\\n\\p{L}\\p{N}]?" UPPER_LA "+" LOWER_LA
    "*|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+", NULL};
static const char *const re_gpt4o[] = {
    "[^\\r\\n\\p{L}\\p{N}]?" UPPER_LA "*" LOWER_LA "+" CONTRACTIONS "?|[^\\r\\n\\p{L}\\p{N}]?" UPPER_LA "+"
    LOWER_LA "*" CONTRACTIONS "?|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+", NULL};
static const char *const re_chameleon[] = {
    "<sentinel:[0-9]+>", "(IMGIMG)((A|B|C|D|E|F|G|H|I){1,4})Z", "([\\t\\n]|    |  )", "\\p{N}",
    "[\\p{P}!-/:-@\\[-`{-~]", GPT2_RE, NULL};
static const char *const re_superbpe[] = {"\\p{N}+", "(?=(\\d{3})+(?!\\d))", NULL};
static const char *const re_bailing[] = {
    "'(?:[sSdDmMtT]|[lL][lL]|[vV][eE]|[rR][eE])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]|\\s+(?!\\S)|\\s+", NULL};
static const char *const re_seed_coder[] = {
    CONTRACTIONS "|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1}| ?[^\\s\\p{L}\\p{N}\\r\\n]+|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+", NULL};
static const char *const re_minicpm5[] = {
    "\\p{N}{1,3}", CONTRACTIONS "|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}+| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+", NULL};

static const tok_pre_def defs[] = {
    {"default", re_default, false, false},
    {"llama3", re_llama3, true, true}, {"llama-v3", re_llama3, true, true},
    {"llama-bpe", re_llama3, true, true}, {"falcon3", re_llama3, true, true},
    {"falcon-h1", re_llama3, true, true}, {"pixtral", re_llama3, true, true},
    {"midm-2.0", re_llama3, true, true}, {"lfm2", re_llama3, true, true},
    {"jina-v5-nano", re_llama3, true, true},
    {"dbrx", re_llama3, false, false}, {"smaug-bpe", re_llama3, false, false},
    {"chatglm-bpe", re_llama3, false, false}, {"glm4", re_llama3, false, false},
    {"deepseek-llm", re_deepseek_llm, false, false},
    {"deepseek-coder", re_deepseek_coder, false, false},
    {"deepseek-v3", re_deepseek3, false, false}, {"hunyuan-dense", re_deepseek3, false, false},
    {"joyai-llm", re_deepseek3, false, false}, {"hy_v4", re_deepseek3, false, false},
    {"falcon", re_falcon, false, false},
    {"mpt", re_gpt2, false, false}, {"gpt-2", re_gpt2, false, false}, {"phi-2", re_gpt2, false, false},
    {"jina-es", re_gpt2, false, false}, {"jina-de", re_gpt2, false, false},
    {"gigachat", re_gpt2, false, false}, {"jina-v2-es", re_gpt2, false, false},
    {"jina-v2-de", re_gpt2, false, false}, {"a.x-4.0", re_gpt2, false, false},
    {"mellum", re_gpt2, false, false}, {"modern-bert", re_gpt2, false, false},
    {"jina-v1-en", re_gpt2, false, false}, {"jina-v2-code", re_gpt2, false, false},
    {"roberta-bpe", re_gpt2, false, false}, {"olmo", re_gpt2, false, false},
    {"jais", re_gpt2, false, false}, {"trillion", re_gpt2, false, false},
    {"granite-docling", re_gpt2, false, false}, {"exaone4", re_gpt2, false, false},
    {"starcoder", re_starcoder, false, false}, {"refact", re_starcoder, false, false},
    {"command-r", re_starcoder, false, false}, {"smollm", re_starcoder, false, false},
    {"codeshell", re_starcoder, false, false}, {"exaone", re_starcoder, false, false},
    {"minerva-7b", re_starcoder, false, false}, {"mellum2", re_starcoder, false, false},
    {"qwen2", re_qwen2, false, false}, {"deepseek-r1-qwen", re_qwen2, false, false},
    {"kormo", re_qwen2, false, false}, {"f2llmv2", re_qwen2, false, false},
    {"megrez", re_qwen2, false, false}, {"stablelm2", re_qwen2, false, false},
    {"hunyuan", re_qwen2, false, false}, {"solar-open", re_qwen2, false, false},
    {"grok-2", re_qwen2, false, false},
    {"qwen35", re_qwen35, false, false},
    {"poro-chat", re_poro, false, false}, {"bloom", re_poro, false, false},
    {"gpt3-finnish", re_poro, false, false},
    {"viking", re_viking, false, false},
    {"tekken", re_tekken, true, true},
    {"chameleon", re_chameleon, false, true},
    {"gpt-4o", re_gpt4o, false, false}, {"llama4", re_gpt4o, false, false},
    {"kanana2", re_gpt4o, false, false}, {"talkie", re_gpt4o, false, false},
    {"minimax-m2", re_gpt4o, false, false},
    {"superbpe", re_superbpe, false, false},
    {"bailingmoe", re_bailing, false, false}, {"bailingmoe2", re_bailing, false, false},
    {"llada-moe", re_bailing, false, false},
    {"seed-coder", re_seed_coder, false, false},
    {"minicpm5", re_minicpm5, true, false},
};

const tok_pre_def *tok_pre_find(const char *name) {
    for (size_t i = 0; i < sizeof defs / sizeof defs[0]; i++)
        if (strcmp(defs[i].name, name) == 0) return &defs[i];
    return NULL;
}
