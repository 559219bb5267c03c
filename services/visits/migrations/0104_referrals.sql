-- The referral of each demand, from the referral service's feed: once set,
-- the referral owns the demand's status.
ALTER TABLE demands ADD COLUMN referral_id TEXT;
