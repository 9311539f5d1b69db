/*
 * cookie.c: reads one cookie from a Cookie request header (RFC 6265 section 4.2:
 * "name=value; name2=value2"). Browsers send what they were given; anything else is
 * hostile input, so the parser is strict about values (cookie-octets, optionally in
 * double quotes) and tolerant only about spaces and tabs around the separators.
 *
 * Pure: no lws or libpq state, no allocation. Any thread. Fuzzed by fuzz/cookie_fuzz.c.
 */
#include "web_int.h"

#include <string.h>

/* RFC 6265 cookie-octet: %x21 / %x23-2B / %x2D-3A / %x3C-5B / %x5D-7E */
static int cookie_octet(unsigned char c)
{
    return c == 0x21 || (c >= 0x23 && c <= 0x2b) || (c >= 0x2d && c <= 0x3a) ||
           (c >= 0x3c && c <= 0x5b) || (c >= 0x5d && c <= 0x7e);
}

int web_cookie_get(const char *header, size_t len, const char *name, char *out, size_t n)
{
    size_t nl = strlen(name), i = 0;
    if (n == 0)
        return CORE_ETOOBIG;
    out[0] = '\0';
    while (i < len) {
        while (i < len && (header[i] == ' ' || header[i] == '\t' || header[i] == ';'))
            i++;
        size_t ks = i;
        while (i < len && header[i] != '=' && header[i] != ';')
            i++;
        size_t ke = i;
        while (ke > ks && (header[ke - 1] == ' ' || header[ke - 1] == '\t'))
            ke--;
        if (i >= len || header[i] != '=') /* a pair without '=': skipped */
            continue;
        i++; /* past '=' */
        while (i < len && (header[i] == ' ' || header[i] == '\t'))
            i++;
        size_t vs = i;
        while (i < len && header[i] != ';')
            i++;
        size_t ve = i;
        while (ve > vs && (header[ve - 1] == ' ' || header[ve - 1] == '\t'))
            ve--;
        if (ke - ks != nl || memcmp(header + ks, name, nl) != 0)
            continue;
        if (ve - vs >= 2 && header[vs] == '"' && header[ve - 1] == '"') {
            vs++;
            ve--;
        }
        size_t vl = ve - vs;
        for (size_t k = vs; k < ve; k++)
            if (!cookie_octet((unsigned char)header[k]))
                return CORE_EINVAL;
        if (vl + 1 > n)
            return CORE_ETOOBIG;
        memcpy(out, header + vs, vl);
        out[vl] = '\0';
        return (int)vl;
    }
    return -1;
}
