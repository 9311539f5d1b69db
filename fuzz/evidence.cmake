# libFuzzer target over evidence files (verify/evidence.c: corridor-verify, corridord verify).
corridor_fuzz(evidence ${CMAKE_CURRENT_LIST_DIR}/evidence_fuzz.c corridor_verify)
