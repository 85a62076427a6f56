//! The queue: enqueue → claim → done (`work`), `enqueue --wait` (`wait`), and a worker's
//! start and stop (`worker`). Retries, unique keys and delayed tasks have their own
//! modules beside this one.

mod wait;
mod work;
mod worker;
