/**
 * Imported first by every entry point (src/main.ts, scripts/*.ts, the test harness's global
 * setup): on Node < 22 the AWS SDK prints a 9-line NodeVersionSupportWarning as plain text in the
 * middle of the JSON logs. The SDK reads this variable when its first client is built, so it is
 * set before any module that builds one is evaluated. A value set by the caller wins.
 */
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

export {};
