-- A tenant's monthly AI budget (`ai_budget` in the tenant API), as domain::budget::AiBudget
-- serializes it: {"monthly_limit_micros", "thresholds", "hard_stop"}, the limit in micro-USD
-- per UTC calendar month and the thresholds in percent of it, ascending. NULL: no budget, the
-- AI's spend is not limited. Checked by AiBudget when read, like every other settings column.
ALTER TABLE tenants
    ADD COLUMN ai_budget jsonb;
