//! Image buffers kept between frames, per decoding thread.
//!
//! A frame the fast path misses gets four or five variant images of the
//! frame's size (a 720p one is 0.9 MB). Allocated afresh for each frame,
//! they came from the kernel as new pages every time: the allocator hands
//! blocks this large back when they are freed (glibc trims its heap; Android's
//! allocator unmaps them), and a page is zeroed and mapped on its first
//! touch. That was a quarter of the time of a frame without a code (22 →
//! 15 ms at the median on the tuning frames, 0.9 s of 5.9 in the kernel).
//! A camera decodes on one thread, frame after frame of one size, so the
//! buffers are kept on the thread and taken again by the next frame.

use std::cell::RefCell;

/// Buffers kept: the most one frame holds at once (the frame's copy, half
/// size, smoothed, and the step's own image), and one spare.
const KEEP: usize = 6;
/// And at most this many bytes in all: a 1080p frame's buffers are under
/// 8 MB, but a 12-megapixel photo decoded once (a picture from the gallery,
/// the CLI) would otherwise leave ~42 MB (three buffers of its size, two of
/// a quarter) held until its thread ends (for the CLI, until it exits).
const KEEP_BYTES: usize = 32 << 20;

thread_local! {
    static FREE: RefCell<Vec<Vec<u8>>> = const { RefCell::new(Vec::new()) };
}

/// An empty buffer with room for `len` bytes: the smallest kept one that
/// fits, else a new one.
pub(super) fn take(len: usize) -> Vec<u8> {
    let kept = FREE
        .try_with(|free| {
            let mut free = free.try_borrow_mut().ok()?;
            let fits = free.iter().enumerate().filter(|(_, b)| b.capacity() >= len).min_by_key(|(_, b)| b.capacity()).map(|(i, _)| i)?;
            Some(free.swap_remove(fits))
        })
        .ok()
        .flatten();
    match kept {
        Some(mut buffer) => {
            buffer.clear();
            buffer
        }
        None => Vec::with_capacity(len),
    }
}

/// A buffer back for the next frame. The smallest go while more than
/// [`KEEP`] buffers or [`KEEP_BYTES`] are kept (a camera that moved to a
/// larger size keeps the new size's buffers; one that moved to a smaller
/// size is served from the larger ones).
pub(super) fn give(buffer: Vec<u8>) {
    // One over the cap on its own would push every smaller one out first.
    if buffer.capacity() == 0 || buffer.capacity() > KEEP_BYTES {
        return;
    }
    // On a thread being torn down there is nothing to keep it for.
    let _ = FREE.try_with(|free| {
        let Ok(mut free) = free.try_borrow_mut() else { return };
        free.push(buffer);
        while free.len() > KEEP || free.iter().map(Vec::capacity).sum::<usize>() > KEEP_BYTES {
            let Some((smallest, _)) = free.iter().enumerate().min_by_key(|(_, b)| b.capacity()) else { break };
            free.swap_remove(smallest);
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_buffer_given_back_is_taken_again_empty() {
        let mut b = take(1000);
        b.extend_from_slice(&[7; 1000]);
        let at = b.as_ptr();
        give(b);
        let again = take(900);
        assert_eq!(again.as_ptr(), at, "the kept buffer, not a new one");
        assert!(again.is_empty() && again.capacity() >= 1000);
        // Too small for what is asked: a new one.
        give(again);
        assert!(take(5000).capacity() >= 5000);
    }

    #[test]
    fn at_most_keep_buffers_are_kept_and_the_largest_stay() {
        for len in 1..=KEEP + 3 {
            give(Vec::with_capacity(len * 100));
        }
        let kept: Vec<usize> = FREE.with(|f| f.borrow().iter().map(Vec::capacity).collect());
        assert_eq!(kept.len(), KEEP);
        assert!(kept.iter().all(|&c| c > 300), "the smallest went: {kept:?}");
    }

    #[test]
    fn large_photos_keep_at_most_keep_bytes() {
        // Four buffers of a 12-megapixel photo: two fit the cap, the rest
        // go back to the allocator; one beyond the cap is never kept.
        for _ in 0..4 {
            give(Vec::with_capacity(12 << 20));
        }
        let kept = || FREE.with(|f| f.borrow().iter().map(Vec::capacity).collect::<Vec<_>>());
        assert_eq!(kept().len(), 2, "{:?}", kept());
        assert!(kept().iter().sum::<usize>() <= KEEP_BYTES);
        give(Vec::with_capacity(KEEP_BYTES + 1));
        assert!(kept().iter().all(|&c| c <= KEEP_BYTES));
        // A camera's 720p buffers after the photo are kept beside its two,
        // within both limits, and taken again by the camera's frames.
        for _ in 0..KEEP {
            give(Vec::with_capacity(1280 * 720));
        }
        assert!(kept().iter().sum::<usize>() <= KEEP_BYTES && kept().len() == KEEP, "{:?}", kept());
        assert!(take(1280 * 720).capacity() < 12 << 20, "the smallest that fits");
    }
}
