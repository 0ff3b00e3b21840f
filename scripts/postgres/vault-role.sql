-- A role and a schema of their own for tokenkeeper's PostgreSQL vault (README "PostgresVault").
--
-- Run once as a superuser (or a role with CREATEROLE that owns the database) in the database that is to
-- hold the vault, for example: psql -d tokens -f scripts/postgres/vault-role.sql
--
-- The role owns the schema `vault` and nothing else: `tokenkeeper vault init` creates the vault's tables
-- there, and the role has no right on the store's tables (they belong to the store's role, which grants
-- nothing), while no other role (the store's included) may use the schema `vault` at all. The vault's
-- tables may as well live in a database of their own: run this there.
--
-- Then give tokenkeeper a connection string for this role, for example
--   postgresql://tokenkeeper_vault@db.example.com/tokens?options=-csearch_path%3Dvault
-- (the role's search_path is set below too), and give the role a password (\password tokenkeeper_vault)
-- or certificate authentication in pg_hba.conf. The connection string is a secret: keep it in the
-- environment variable the spec names, never in the spec.

CREATE ROLE tokenkeeper_vault LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE;
CREATE SCHEMA vault AUTHORIZATION tokenkeeper_vault;
REVOKE ALL ON SCHEMA vault FROM PUBLIC;
ALTER ROLE tokenkeeper_vault SET search_path = vault;
