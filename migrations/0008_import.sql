-- keyhold import (src/modules/import-export): an import file names accounts by its own key
-- (`account.key`), and every line with that key, in any batch of any run, must land in the one
-- account the key first created. The key is kept here, beside the account, rather than as a
-- column of accounts: only imported accounts have one, and the accounts table stays as it is.
CREATE TABLE account_import_keys (
  key         text PRIMARY KEY,
  account_id  uuid NOT NULL UNIQUE REFERENCES accounts (id) ON DELETE CASCADE,
  created_at  timestamptz NOT NULL DEFAULT now()
);
