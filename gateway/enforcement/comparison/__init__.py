"""Cross-source comparison ("big-data matching"): two governed queries joined on
pseudonymised keys, so anomalies are found without raw identity numbers leaving."""
