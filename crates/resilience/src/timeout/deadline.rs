//! Running a future against a deadline without paying for a timer when it is ready at once.

use std::future::Future;
use std::task::Poll;

use tokio::time::Instant;

/// Runs `fut` until `deadline`; `None` when the deadline passed first (the future is then
/// dropped). The first poll happens without a timer, so an attempt that completes at once
/// never registers one (tokio's `timeout_at` also polls the future before the deadline).
pub(crate) async fn run_until<F: Future>(deadline: Instant, fut: F) -> Option<F::Output> {
    let mut fut = std::pin::pin!(fut);
    if let Poll::Ready(v) = std::future::poll_fn(|cx| Poll::Ready(fut.as_mut().poll(cx))).await {
        return Some(v);
    }
    tokio::time::timeout_at(deadline, fut).await.ok()
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test(start_paused = true)]
    async fn ready_at_once_pending_then_ready_and_too_late() {
        let t0 = Instant::now();
        assert_eq!(run_until(t0 + Duration::from_secs(1), async { 1 }).await, Some(1));
        let slow = async {
            tokio::time::sleep(Duration::from_millis(999)).await;
            2
        };
        assert_eq!(run_until(t0 + Duration::from_secs(1), slow).await, Some(2));
        let t1 = Instant::now();
        let too_slow = tokio::time::sleep(Duration::from_millis(1_001));
        assert_eq!(run_until(t1 + Duration::from_secs(1), too_slow).await, None);
        assert_eq!(Instant::now() - t1, Duration::from_secs(1));
    }
}
