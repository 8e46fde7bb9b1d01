-- Account deletion (src/modules/accounts/account-deletion.ts).
--
-- audit_logs.user_id has no foreign key (0001), on purpose: a deleted user's audit rows keep
-- their id. What does leave them is the email address, kept as the `email` detail of the few
-- actions that record one (a failed sign-in with an unknown address, an invite sent to it):
-- deletion removes it from every row that names the address. This index finds those rows
-- without reading the whole log; only rows with an `email` detail are in it.
CREATE INDEX audit_logs_details_email_idx ON audit_logs ((details ->> 'email')) WHERE details ? 'email';
