-- aqevent: the full install script of the current schema (version in
-- sql/VERSION). `aqevent migrate` runs these files in this order in one
-- transaction; with psql: psql -1 -f sql/install.sql. One definition of each
-- object, one concept a file. Upgrades from released versions: sql/upgrade/.
SET LOCAL check_function_bodies = false;
\ir schema/roles.sql
\ir schema/identifiers.sql
\ir schema/catalog.sql
\ir schema/settings.sql
\ir schema/sessions.sql
\ir schema/subscriptions.sql
\ir schema/filters.sql
\ir schema/capture.sql
\ir schema/catalog-diff.sql
\ir schema/listener.sql
\ir schema/inbox.sql
\ir schema/collect.sql
\ir schema/render.sql
\ir schema/snapshot.sql
\ir schema/delivery.sql
\ir schema/ddl.sql
\ir schema/maintenance.sql
\ir schema/access.sql
