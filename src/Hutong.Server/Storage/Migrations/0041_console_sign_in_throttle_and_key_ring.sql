-- The console's sign-in throttle and the hub's shared Data Protection key ring (issue 15).
-- console_sign_in_throttle: failed sign-ins counted per submitted email (its normalised form's SHA-256, so an email that
-- is no account is not stored in clear), whether or not an account has that email: a throttled answer tells nothing
-- about which emails are accounts. A correct password deletes the row.
CREATE TABLE console_sign_in_throttle (
    email_key       TEXT PRIMARY KEY,
    failures        BIGINT NOT NULL,
    throttled_until BIGINT,
    updated_at      BIGINT NOT NULL
);

-- data_protection_keys: the ASP.NET Core Data Protection key ring (one XML element per key, as the framework writes
-- them), shared by every hub instance on this database so each accepts the others' antiforgery tokens and protected
-- cookies. The element is sealed with Hutong:MasterKey when one is configured (SecretBox); friendly_name is the
-- framework's name for the element ("key-<guid>"), unique.
CREATE TABLE data_protection_keys (
    friendly_name TEXT PRIMARY KEY,
    xml           TEXT NOT NULL,
    created_at    BIGINT NOT NULL
);
