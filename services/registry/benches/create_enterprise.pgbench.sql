-- The least a CreateEnterprise must do on PostgreSQL, as pgbench runs it:
-- the enterprise's row, its idempotency key with the response, its audit
-- record, and its event under the next sequence number, in one transaction.
-- Tables and columns are the real ones (services/kit/migrations/postgres,
-- services/registry/migrations). The benchmark passes the sizes of a real
-- response and event payload (-D response_bytes=… -D payload_bytes=…), and
-- `:client_id` keeps clients' keys apart.
\set n random(1, 9000000000000000000)
BEGIN;
INSERT INTO enterprises (uscc, display_name, industry, headcount, party_members, contacts, status, registered_address, created_at, updated_at) VALUES ('P' || :client_id::text || '-' || :n::text, '上海示例科技有限公司', '信息技术', 120, 8, '[{"person_name":"王小明","title":"行政经理","phone":"13800138000","email":"wang@example.com"}]', 1, '浦东新区示例路1号', 1764230400000000, 1764230400000000);
INSERT INTO idempotency_keys (method, request_id, request_hash, response, created_at) VALUES ('CreateEnterprise', 'pgbench-' || :client_id::text || '-' || :n::text, '9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08', decode(repeat('ab', :response_bytes), 'hex'), 1764230400000000);
INSERT INTO audit_records (occurred_at, actor, method, resource, request_id) VALUES (1764230400000000, 'anonymous', 'CreateEnterprise', 'districts/jingan/enterprises/P' || :client_id::text || '-' || :n::text, 'pgbench-' || :client_id::text || '-' || :n::text);
UPDATE event_sequence SET last_sequence = last_sequence + 1 WHERE id = 1 RETURNING last_sequence AS sequence \gset
INSERT INTO outbox (sequence, event_id, event_type, resource, payload, traceparent, occurred_at) VALUES (:sequence, 'pgbench-' || :client_id::text || '-' || :n::text, 'louyu.registry.v1.EnterpriseCreated', 'districts/jingan/enterprises/P' || :client_id::text || '-' || :n::text, decode(repeat('ab', :payload_bytes), 'hex'), '', 1764230400000000);
END;
