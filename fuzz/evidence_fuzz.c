/*
 * evidence_fuzz.c: libFuzzer target for the evidence-file checker (verify/evidence.c), the
 * parser corridor-verify and `corridord verify` run on a file from anywhere: any bytes are
 * given to ver_check as a file, with the keys the file carries (no key given), and the
 * report is printed to /dev/null. A crash, a leak or undefined behaviour is a finding; an
 * answer is either a report or a refusal with a reason. Single-threaded.
 */
#include "verify.h"

#include <stdint.h>
#include <stdio.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static FILE *null;
    if (!null)
        null = fopen("/dev/null", "w");
    char err[256];
    ver_report rep;
    if (ver_check((const char *)data, size, NULL, &rep, err, sizeof err) == 0 && null)
        ver_report_print(&rep, null);
    else if (!err[0])
        __builtin_trap(); /* a refusal always says why */
    ver_report_free(&rep);
    return 0;
}
