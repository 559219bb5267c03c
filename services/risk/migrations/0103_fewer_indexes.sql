-- Re-assessing rewrites every row of `assessments`, and each index on a
-- column it rewrites is written again for every row (PostgreSQL cannot
-- update in place then). Colours are counted over the whole reach (a scan
-- either way) and filtered within a page walked by `uscc`, so indexes on
-- them cost every re-assessment and serve no query.
DROP INDEX assessments_by_colour;
DROP INDEX assessments_by_effective_colour;
