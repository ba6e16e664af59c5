//! The fused CPU pass: the [`encoder`] (packed sequences, no padding, per layer four
//! projections and four fused row kernels), its row [`kernels`], the 8-bit projections
//! of [`qgemm`], and [`isa`], which says which instruction set the kernels use.

pub(crate) mod encoder;
pub mod isa;
pub(crate) mod kernels;
pub mod qgemm;
mod shared_out;

/// A buffer of exactly `len` values, grown when it is shorter; old contents are left
/// (every user overwrites them).
pub(crate) fn sized<T: Copy + Default>(buf: &mut Vec<T>, len: usize) -> &mut [T] {
    if buf.len() < len {
        buf.resize(len, T::default());
    }
    &mut buf[..len]
}
