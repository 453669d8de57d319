/* Tests for the pull client's network policy (no network needed): URL
 * origins (default ports, no userinfo, odd bytes refused), which redirects
 * may be followed (HTTPS anywhere, plain HTTP only to the configured
 * origin), private/loopback address classification (IPv4, IPv6, mapped),
 * and that a request to a non-HTTPS foreign URL is refused before any
 * connection is made. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#include "store/store_internal.h"

static void test_origin(void **state) {
    (void)state;
    char o[512];
    assert_true(store_url_origin("https://HuggingFace.co/x/y", o, sizeof o));
    assert_string_equal(o, "https://huggingface.co:443");
    assert_true(store_url_origin("http://127.0.0.1:8080", o, sizeof o));
    assert_string_equal(o, "http://127.0.0.1:8080");
    assert_true(store_url_origin("http://[::1]/v2", o, sizeof o));
    assert_string_equal(o, "http://[::1]:80");
    assert_false(store_url_origin("ftp://host/x", o, sizeof o));
    assert_false(store_url_origin("file:///etc/passwd", o, sizeof o));
    assert_false(store_url_origin("https://user@evil.com/", o, sizeof o));
    assert_false(store_url_origin("https:///path", o, sizeof o));
    assert_false(store_url_origin("https://a b/", o, sizeof o));
}

static void test_redirect_policy(void **state) {
    (void)state;
    store_http h;
    store_http_init(&h, "http://127.0.0.1:9000", NULL, NULL);
    char why[300];
    assert_true(store_redirect_ok(&h, "http://127.0.0.1:9000/cdn/x", why, sizeof why));
    assert_true(store_redirect_ok(&h, "https://cdn.example.com/x", why, sizeof why));
    assert_false(store_redirect_ok(&h, "http://localhost:9000/cdn/x", why, sizeof why)); /* another origin */
    assert_non_null(strstr(why, "non-HTTPS"));
    assert_false(store_redirect_ok(&h, "http://127.0.0.1:9001/x", why, sizeof why));
    assert_false(store_redirect_ok(&h, "file:///etc/passwd", why, sizeof why));
    assert_false(store_redirect_ok(&h, "gopher://x/", why, sizeof why));
    store_http_init(&h, "https://registry.ollama.ai", "secret", NULL);
    assert_false(store_redirect_ok(&h, "http://registry.ollama.ai/x", why, sizeof why)); /* downgrade */
    assert_string_equal(h.auth, "Authorization: Bearer secret");
    store_http_init(&h, "https://huggingface.co", "bad\r\nX-Injected: 1", NULL);
    assert_string_equal(h.auth, ""); /* header injection refused */
}

static bool v4_private(const char *ip) {
    struct sockaddr_in a = {.sin_family = AF_INET};
    assert_int_equal(inet_pton(AF_INET, ip, &a.sin_addr), 1);
    return store_addr_private(&a, AF_INET);
}

static bool v6_private(const char *ip) {
    struct sockaddr_in6 a = {.sin6_family = AF_INET6};
    assert_int_equal(inet_pton(AF_INET6, ip, &a.sin6_addr), 1);
    return store_addr_private(&a, AF_INET6);
}

static void test_private_addresses(void **state) {
    (void)state;
    const char *priv4[] = {"127.0.0.1", "127.1.2.3", "10.0.0.1", "172.16.0.1", "172.31.255.255", "192.168.1.1",
                           "169.254.169.254", "0.0.0.0", "100.64.0.1", "224.0.0.1"};
    for (size_t i = 0; i < sizeof priv4 / sizeof priv4[0]; i++)
        if (!v4_private(priv4[i])) fail_msg("%s not private", priv4[i]);
    const char *pub4[] = {"8.8.8.8", "172.32.0.1", "172.15.255.255", "192.169.0.1", "1.1.1.1"};
    for (size_t i = 0; i < sizeof pub4 / sizeof pub4[0]; i++)
        if (v4_private(pub4[i])) fail_msg("%s is public", pub4[i]);
    assert_true(v6_private("::1"));
    assert_true(v6_private("::"));
    assert_true(v6_private("fe80::1"));
    assert_true(v6_private("fd00::1"));
    assert_true(v6_private("::ffff:127.0.0.1"));
    assert_true(v6_private("::ffff:169.254.169.254"));
    assert_false(v6_private("2606:4700::1111"));
    assert_false(v6_private("::ffff:8.8.8.8"));
}

static void test_request_refused_before_connecting(void **state) {
    (void)state;
    store_http h;
    store_http_init(&h, "http://127.0.0.1:9", NULL, NULL);
    store_resp r;
    slm_error err = {0};
    assert_int_not_equal(store_http_request(&h, "http://example.com/x", NULL, 0, NULL, NULL, 100, &r, &err), SLM_OK);
    assert_true(r.refused);
    assert_non_null(strstr(err.msg, "only HTTPS"));
    store_resp_free(&r);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_origin),
        cmocka_unit_test(test_redirect_policy),
        cmocka_unit_test(test_private_addresses),
        cmocka_unit_test(test_request_refused_before_connecting),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
