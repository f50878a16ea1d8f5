//! A counter shared by every process that opens the same SQLite database: eight bytes of a
//! small file beside it (`<db>-signal`), mapped into memory. A process that invalidated
//! credentials adds one; every process compares it with the value it last saw before it
//! trusts its cache. Reading it is a memory load — no system call on the request path — and a
//! change is seen by the very next read in any process: all mappings of a file share the same
//! page of the kernel's page cache (SQLite's own `-shm` file works the same way).
//!
//! The file must only ever grow (truncating it under a mapping would fault the processes that
//! map it); sessiond never shrinks it.

use std::fs::OpenOptions;
use std::path::Path;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU64, Ordering};

pub struct SharedCounter {
    ptr: NonNull<AtomicU64>,
    // Keeps the descriptor for as long as the mapping (not required by mmap, but tidy).
    _file: std::fs::File,
}

// SAFETY: the mapping is only ever accessed through `&AtomicU64`, which is Sync; the
// pointer stays valid until `drop` unmaps it, and nothing else aliases it mutably.
unsafe impl Send for SharedCounter {}
// SAFETY: as above.
unsafe impl Sync for SharedCounter {}

const LEN: usize = std::mem::size_of::<u64>();

impl SharedCounter {
    pub fn open(path: &Path) -> std::io::Result<Self> {
        let file = OpenOptions::new().read(true).write(true).create(true).truncate(false).open(path)?;
        if file.metadata()?.len() < LEN as u64 {
            file.set_len(LEN as u64)?;
        }
        let fd = std::os::fd::AsRawFd::as_raw_fd(&file);
        // SAFETY: a fresh shared mapping of the first 8 bytes of a file we just made at least
        // 8 bytes long; mmap reads no Rust memory and we check its result before use.
        let ptr = unsafe {
            libc::mmap(std::ptr::null_mut(), LEN, libc::PROT_READ | libc::PROT_WRITE, libc::MAP_SHARED, fd, 0)
        };
        if ptr == libc::MAP_FAILED {
            return Err(std::io::Error::last_os_error());
        }
        // Page-aligned, so aligned for u64; an AtomicU64 has the layout of a u64.
        let ptr = NonNull::new(ptr.cast::<AtomicU64>()).ok_or_else(|| std::io::Error::other("mmap returned null"))?;
        Ok(Self { ptr, _file: file })
    }

    fn counter(&self) -> &AtomicU64 {
        // SAFETY: `ptr` is a live, aligned mapping of 8 bytes for the lifetime of `self`
        // (see `open` and `drop`), used only atomically by every process.
        unsafe { self.ptr.as_ref() }
    }

    pub fn load(&self) -> u64 {
        self.counter().load(Ordering::SeqCst)
    }

    pub fn bump(&self) {
        self.counter().fetch_add(1, Ordering::SeqCst);
    }
}

impl Drop for SharedCounter {
    fn drop(&mut self) {
        // SAFETY: unmaps exactly the mapping made in `open`, once; no reference to it can
        // outlive `self`.
        unsafe {
            libc::munmap(self.ptr.as_ptr().cast(), LEN);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_mappings_of_one_file_see_each_others_bumps_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db-signal");
        let a = SharedCounter::open(&path).unwrap();
        let b = SharedCounter::open(&path).unwrap();
        assert_eq!((a.load(), b.load()), (0, 0));
        a.bump();
        assert_eq!(b.load(), 1);
        b.bump();
        b.bump();
        assert_eq!(a.load(), 3);
        drop(a);
        let c = SharedCounter::open(&path).unwrap();
        assert_eq!(c.load(), 3, "the count lives in the file");
    }
}
