-- Which residential stations' residents each station serves (a residential station serves its
-- own; the flagship center all; grid stations their grid). Population of any set of stations
-- is the population of the residential stations they serve together, counted once — so a
-- dashboard selecting several stations divides by the right number of residents.
CREATE TABLE IF NOT EXISTS {db}.station_serves
(
    station_id   String,
    served_id    String
)
ENGINE = MergeTree
ORDER BY (station_id, served_id);
