-- What each department reaches through the referral service's feed: the
-- enterprises and buildings of the referrals addressed to it
-- (louyu_kit::scope::referred).
CREATE TABLE scope_referrals (
    referral_id TEXT NOT NULL,
    department_id TEXT NOT NULL,
    uscc TEXT NOT NULL,
    building_id TEXT NOT NULL,
    PRIMARY KEY (referral_id, department_id)
);
CREATE INDEX scope_referrals_by_department ON scope_referrals (department_id);
