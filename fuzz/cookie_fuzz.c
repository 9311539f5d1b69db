/*
 * cookie_fuzz.c: libFuzzer target for web_cookie_get (web/cookie.c), the parser of the
 * Cookie header every request may carry. The input is the header; the target looks up
 * the session cookie and a one-letter name into buffers of several sizes and checks what
 * the parser promises: a found value fits its buffer, is NUL-terminated, has the length
 * returned and holds only cookie-octets. Single-threaded.
 */
#include "web_int.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static int octet(unsigned char c)
{
    return c == 0x21 || (c >= 0x23 && c <= 0x2b) || (c >= 0x2d && c <= 0x3a) ||
           (c >= 0x3c && c <= 0x5b) || (c >= 0x5d && c <= 0x7e);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const names[] = {WEB_COOKIE_NAME, "a"};
    static const size_t sizes[] = {1, 8, 72, 4096};
    /* a copy without a NUL after it: the parser must keep to len */
    char *hdr = malloc(size ? size : 1);
    if (!hdr)
        return 0;
    memcpy(hdr, data, size);
    for (size_t i = 0; i < 2; i++)
        for (size_t k = 0; k < 4; k++) {
            char *out = malloc(sizes[k]);
            int n = web_cookie_get(hdr, size, names[i], out, sizes[k]);
            if (n >= 0) {
                if ((size_t)n >= sizes[k] || strlen(out) != (size_t)n)
                    abort();
                for (int j = 0; j < n; j++)
                    if (!octet((unsigned char)out[j]))
                        abort();
            } else if (n != -1 && n != CORE_ETOOBIG && n != CORE_EINVAL) {
                abort();
            }
            free(out);
        }
    free(hdr);
    return 0;
}
