//! Done/failed per minute: samples of the stats counters kept in Redis (one per minute,
//! the last hour), and the overview drawing them.

use super::http::*;
use crate::harness::*;
use ciq::broker::rates::{per_minute, KEEP_MIN};

#[test]
fn rate_samples_are_kept_in_redis_once_a_minute_and_trimmed_to_the_hour() {
    let redis = Redis::start();
    block_on(async {
        let b = ciq::broker::Broker::connect(&redis.url()).await.unwrap();
        let m0 = 29_000_000u64; // a minute number
        redis.cli(&[
            "HSET",
            &keys::q("default").stats,
            "done",
            "5",
            "failed",
            "1",
        ]);
        b.sample_rates("default", m0 * 60_000).await.unwrap();
        // A second sample in the same minute does not replace the first.
        redis.cli(&["HSET", &keys::q("default").stats, "done", "9"]);
        b.sample_rates("default", m0 * 60_000 + 30_000)
            .await
            .unwrap();
        redis.cli(&[
            "HSET",
            &keys::q("default").stats,
            "done",
            "65",
            "failed",
            "4",
        ]);
        b.sample_rates("default", (m0 + 1) * 60_000).await.unwrap();
        let s = b.rate_samples("default").await.unwrap();
        assert_eq!(s, vec![(m0, 5, 1), (m0 + 1, 65, 4)]);
        assert_eq!(per_minute(&s), vec![(m0 + 1, 60.0, 3.0)]);
        // An hour later the old samples are trimmed.
        b.sample_rates("default", (m0 + KEEP_MIN + 2) * 60_000)
            .await
            .unwrap();
        let s = b.rate_samples("default").await.unwrap();
        assert_eq!(s.len(), 1, "{s:?}");
        assert_eq!(s[0].0, m0 + KEEP_MIN + 2);
    });
}

#[test]
fn the_overview_draws_done_and_failed_per_minute_from_the_samples() {
    let redis = Redis::start();
    let ciq = Ciq::new(&redis);
    let now_min = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        / 60;
    // Two minutes ago 100 done / 2 failed; a minute ago 160 / 5.
    redis.cli(&[
        "HSET",
        &keys::q("default").rate_samples(),
        &(now_min - 2).to_string(),
        "100,2",
        &(now_min - 1).to_string(),
        "160,5",
    ]);
    redis.cli(&[
        "HSET",
        &keys::q("default").stats,
        "done",
        "160",
        "failed",
        "5",
    ]);
    redis.cli(&["SADD", &keys::queues(), "default"]);
    let web = start(&ciq, &[]);
    let page = web.page("/").body;
    let row = page.split("data-queue=\"default\"").nth(1).unwrap();
    assert!(row.contains("<span class=\"rate\">60 / 3</span>"), "{row}");
}
