-- A role and a schema of their own for tokenkeeper's PostgreSQL store (README "State on PostgreSQL"),
-- the counterpart of vault-role.sql.
--
-- Run once as a superuser (or a role with CREATEROLE that owns the database) in the database that is to
-- hold the tokens, for example: psql -d tokens -f scripts/postgres/store-role.sql
--
-- The role owns the schema `store` and nothing else: `tokenkeeper state init` creates the store's tables
-- (tokens, token_keys, key_version_rows, store_identity, schema_migrations) and their triggers there, and
-- later versions of tokenkeeper migrate them through the same role. The role has no right on the vault's
-- schema (vault-role.sql keeps it from every other role), and no other role may use the schema `store`:
-- the store's role cannot read the vault's tables, nor the vault's role the store's. The job lock is an
-- advisory lock, which needs no grant.
--
-- Then give tokenkeeper a connection string for this role, for example
--   postgresql://tokenkeeper_store@db.example.com/tokens?options=-csearch_path%3Dstore
-- (the role's search_path is set below too), and give the role a password (\password tokenkeeper_store)
-- or certificate authentication in pg_hba.conf. The connection string is a secret: keep it in the
-- environment variable the spec names, never in the spec.

CREATE ROLE tokenkeeper_store LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE;
CREATE SCHEMA store AUTHORIZATION tokenkeeper_store;
REVOKE ALL ON SCHEMA store FROM PUBLIC;
ALTER ROLE tokenkeeper_store SET search_path = store;
-- A read-only session (status, plan, token show, a dry run) on a store an older tokenkeeper left reads it
-- without upgrading it, through empty temporary tables that stand in for the newer tables: the role needs
-- the TEMPORARY privilege on the database. PUBLIC has it by default; it is granted here for databases that
-- revoke it from PUBLIC. (Without it, such a session stops with an error naming this grant.)
DO $$ BEGIN EXECUTE format('GRANT TEMPORARY ON DATABASE %I TO tokenkeeper_store', current_database()); END $$;
