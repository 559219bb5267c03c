-- Each enterprise's colour as the risk service's feed last said it
-- (AssessmentChanged), kept apart from the plans because the colour can
-- arrive before the enterprise's plan starts. A plan takes its colour from
-- here when it starts, and follows every change.
CREATE TABLE enterprise_colours (
    uscc TEXT PRIMARY KEY,
    colour BIGINT NOT NULL
);
