//! The test PostgreSQL: its URL from `SERVICETASK_TEST_POSTGRES_URL` (`.ci/run` starts one
//! with `.ci/postgres.sh`), and a fresh, empty database on it for each test, so tests never
//! see each other's rows.

/// The variable naming the test PostgreSQL.
pub const ENV: &str = "SERVICETASK_TEST_POSTGRES_URL";

/// The URL of the test PostgreSQL; panics, saying how to get one, when it is not set.
pub fn url() -> String {
    std::env::var(ENV).unwrap_or_else(|_| panic!("{ENV} is not set: start a PostgreSQL (see .ci/postgres.sh)"))
}

/// Creates a new, empty database named `<prefix>_<random>` on the test PostgreSQL and returns
/// its URL. Call it outside any tokio runtime (it runs one of its own).
pub fn fresh_database(prefix: &str) -> String {
    let url = url();
    let name = format!("{prefix}_{:016x}", rand::random::<u64>());
    crate::runtime::current_thread().block_on(async {
        let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
            .await
            .unwrap_or_else(|e| panic!("connecting to the test PostgreSQL: {e}"));
        tokio::spawn(conn);
        client
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .await
            .unwrap_or_else(|e| panic!("creating the database {name}: {e}"));
    });
    let base = url.rsplit_once('/').map_or(url.as_str(), |(b, _)| b);
    format!("{base}/{name}")
}
