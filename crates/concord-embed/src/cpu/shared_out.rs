//! [`SharedOut`]: one output matrix that parallel tasks write together, each its own
//! disjoint block (attention's sequence x head blocks, the 8-bit kernel's tiles).

/// A raw pointer to an output matrix, copied into every task that writes a block of it.
#[derive(Clone, Copy)]
pub(crate) struct SharedOut(*mut f32);

// SAFETY: `SharedOut::new` is unsafe; its caller promises that the tasks holding
// copies write disjoint elements and that it waits for all of them before it reads
// or frees the matrix, so sharing the pointer across threads races on nothing.
unsafe impl Send for SharedOut {}
unsafe impl Sync for SharedOut {}

impl SharedOut {
    /// # Safety
    /// Every task given a copy must write only elements no other task touches, and
    /// the caller must wait for all tasks before it reads or drops `out`.
    pub(crate) unsafe fn new(out: &mut [f32]) -> Self {
        Self(out.as_mut_ptr())
    }

    /// The element `offset` floats in (a method, so closures capture the wrapper,
    /// not its bare pointer field).
    ///
    /// # Safety
    /// `offset` must lie inside the matrix.
    pub(crate) unsafe fn at(self, offset: usize) -> *mut f32 {
        self.0.add(offset)
    }
}
