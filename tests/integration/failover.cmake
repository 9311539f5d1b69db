# test_failover: scripts/ha.sh's pg_auto_failover formation and two corridord under JT/T 808
# load; SIGKILL of the primary, then of a corridord (a short bench/failover.sh run).
# Skipped (77) only when pg_autoctl is not installed.
add_test(NAME test_failover COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/test_failover.sh)
set_tests_properties(test_failover PROPERTIES LABELS integration SKIP_RETURN_CODE 77
  TIMEOUT 300 ENVIRONMENT "CORRIDOR_BUILD=${CMAKE_BINARY_DIR}")
