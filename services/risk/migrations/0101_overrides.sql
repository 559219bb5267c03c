-- Colours set by hand (SetColourOverride), beside the computed colour, and
-- the colour the district acts on: the override's while it lasts.
ALTER TABLE assessments ADD COLUMN effective_colour BIGINT NOT NULL DEFAULT 0;
ALTER TABLE assessments ADD COLUMN override_colour BIGINT;
ALTER TABLE assessments ADD COLUMN override_reason TEXT;
ALTER TABLE assessments ADD COLUMN override_actor TEXT;
ALTER TABLE assessments ADD COLUMN override_set_at BIGINT;
ALTER TABLE assessments ADD COLUMN override_expires_at BIGINT;
UPDATE assessments SET effective_colour = colour;
CREATE INDEX assessments_by_effective_colour ON assessments (effective_colour);
