/** Environment variables the test harness (test/run.ts) hands to test files. */
export const ADMIN_URL_VAR = 'AQEVENT_TEST_ADMIN_URL';
export const TEMPLATE_VAR = 'AQEVENT_TEST_TEMPLATE';
export const RUN_ID_VAR = 'AQEVENT_TEST_RUN_ID';
