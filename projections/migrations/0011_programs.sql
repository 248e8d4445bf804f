-- The center's service programs (服务项目) and their category, reloaded with the other reference
-- data, so dashboards can label activities by program.
CREATE TABLE IF NOT EXISTS {db}.programs
(
    program   String,
    name      String,
    category  String
)
ENGINE = MergeTree
ORDER BY program;
