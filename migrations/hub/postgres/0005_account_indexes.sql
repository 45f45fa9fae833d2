-- Cascading deletes of accounts (sweep, reject) and the email-change cleanup look tokens and bind
-- codes up by account.
create index email_tokens_account_id on email_tokens (account_id);
create index bind_codes_account_id on bind_codes (account_id);
