"""The Apache Spark comparison engine (issue 15): ``docs/comparison-spark.md``."""
