//! Strings, byte buffers and string lists crossing the boundary, and the argument helpers every
//! exported function uses (NULL and UTF-8 checks).

use std::ffi::{CStr, CString, c_char};
use std::ptr;

use super::error::{Failure, free_box, guard};

/// Reads a required C string argument: NULL or invalid UTF-8 is `OCIREG_INVALID_ARGUMENT`.
///
/// # Safety
///
/// `p` must be NULL or point to a NUL-terminated string that outlives `'a`.
pub(crate) unsafe fn arg_str<'a>(p: *const c_char, name: &str) -> Result<&'a str, Failure> {
    if p.is_null() {
        return Err(Failure::null(name));
    }
    // SAFETY: not NULL, and the caller guarantees NUL termination and lifetime.
    let c = unsafe { CStr::from_ptr(p) };
    c.to_str()
        .map_err(|e| Failure::invalid(format!("argument `{name}` is not valid UTF-8 ({e})")))
}

/// Reads a required C string argument that must not be empty (a path, a URL): `""` is
/// `OCIREG_INVALID_ARGUMENT` too.
///
/// # Safety
///
/// As [`arg_str`].
pub(crate) unsafe fn arg_nonempty_str<'a>(
    p: *const c_char,
    name: &str,
) -> Result<&'a str, Failure> {
    // SAFETY: forwarded.
    let s = unsafe { arg_str(p, name) }?;
    if s.is_empty() {
        return Err(Failure::invalid(format!("argument `{name}` is empty")));
    }
    Ok(s)
}

/// Reads an optional C string argument: NULL is `None`; invalid UTF-8 is
/// `OCIREG_INVALID_ARGUMENT`.
///
/// # Safety
///
/// As [`arg_str`].
pub(crate) unsafe fn arg_opt_str<'a>(
    p: *const c_char,
    name: &str,
) -> Result<Option<&'a str>, Failure> {
    if p.is_null() {
        Ok(None)
    } else {
        // SAFETY: forwarded.
        unsafe { arg_str(p, name) }.map(Some)
    }
}

/// Reads a byte buffer argument: NULL is allowed only with `len == 0`.
///
/// # Safety
///
/// `p` must be NULL or valid for reading `len` bytes for `'a`.
pub(crate) unsafe fn arg_bytes<'a>(
    p: *const u8,
    len: usize,
    name: &str,
) -> Result<&'a [u8], Failure> {
    if p.is_null() {
        if len == 0 {
            return Ok(&[]);
        }
        return Err(Failure::invalid(format!(
            "argument `{name}` is NULL but its length is {len}"
        )));
    }
    if len > isize::MAX as usize {
        return Err(Failure::invalid(format!(
            "argument `{name}`: length {len} is too large"
        )));
    }
    // SAFETY: not NULL, and the caller guarantees `len` readable bytes.
    Ok(unsafe { std::slice::from_raw_parts(p, len) })
}

/// Checks that a required out-parameter is not NULL.
pub(crate) fn arg_out<T>(p: *mut T, name: &str) -> Result<(), Failure> {
    if p.is_null() {
        Err(Failure::null(name))
    } else {
        Ok(())
    }
}

/// Borrows a required handle argument.
///
/// # Safety
///
/// `p` must be NULL or point to a live `T` for `'a`.
pub(crate) unsafe fn arg_ref<'a, T>(p: *const T, name: &str) -> Result<&'a T, Failure> {
    // SAFETY: the caller guarantees `p` is NULL or valid.
    unsafe { p.as_ref() }.ok_or_else(|| Failure::null(name))
}

/// Borrows a required mutable handle argument.
///
/// # Safety
///
/// `p` must be NULL or point to a live `T`, not used elsewhere during `'a`.
pub(crate) unsafe fn arg_mut<'a, T>(p: *mut T, name: &str) -> Result<&'a mut T, Failure> {
    // SAFETY: the caller guarantees `p` is NULL or valid and unaliased.
    unsafe { p.as_mut() }.ok_or_else(|| Failure::null(name))
}

/// Converts an output string to a `CString`; an interior NUL (never produced by a sane registry)
/// is an error rather than a silently truncated string.
pub(crate) fn out_cstring(s: &str, what: &str) -> Result<CString, Failure> {
    CString::new(s).map_err(|_| {
        Failure::new(
            super::error::ocireg_status::OCIREG_REGISTRY,
            format!("{what} contains a NUL byte and cannot be returned as a C string"),
        )
    })
}

/// Writes `value` to an out-parameter that the caller has already checked is not NULL.
///
/// # Safety
///
/// `out` must be valid for writing one `T`.
pub(crate) unsafe fn write_out<T>(out: *mut T, value: T) {
    // SAFETY: the caller guarantees validity.
    unsafe { out.write(value) }
}

/// Hands a new handle to a required out-parameter that the caller has already checked is not
/// NULL; C frees it with the handle's `_free` function.
///
/// # Safety
///
/// `out` must be valid for writing one pointer.
pub(crate) unsafe fn write_box<T>(out: *mut *mut T, value: T) {
    // SAFETY: forwarded.
    unsafe { write_out(out, Box::into_raw(Box::new(value))) }
}

/// Hands an owned copy of `s` to a required out-parameter that the caller has already checked is
/// not NULL (freed with ocireg_string_free()); `what` names `s` in the error about a NUL byte.
///
/// # Safety
///
/// `out` must be valid for writing one pointer.
pub(crate) unsafe fn write_cstring(
    out: *mut *mut c_char,
    s: &str,
    what: &str,
) -> Result<(), Failure> {
    let c = out_cstring(s, what)?;
    // SAFETY: forwarded.
    unsafe { write_out(out, c.into_raw()) };
    Ok(())
}

/// The body of every string accessor: the string `field` of the handle `p`, borrowed from it, or
/// NULL when `p` is NULL.
///
/// # Safety
///
/// `p` must be NULL or point to a live `T`; the pointer returned lives as long as it.
pub(crate) unsafe fn borrow_cstr<T>(
    p: *const T,
    field: impl FnOnce(&T) -> &CString,
) -> *const c_char {
    // SAFETY: the caller guarantees `p` is NULL or live.
    unsafe { p.as_ref() }.map_or(ptr::null(), |v| field(v).as_ptr())
}

/// The body of every number accessor: `read` of the handle `p`, or `fallback` when `p` is NULL.
///
/// # Safety
///
/// `p` must be NULL or point to a live `T`.
pub(crate) unsafe fn read_or<T, R>(p: *const T, fallback: R, read: impl FnOnce(&T) -> R) -> R {
    // SAFETY: the caller guarantees `p` is NULL or live.
    unsafe { p.as_ref() }.map_or(fallback, read)
}

/// Writes `value` to an optional out-parameter: nothing when `out` is NULL.
///
/// # Safety
///
/// `out` must be NULL or valid for writing one `T`.
pub(crate) unsafe fn write_opt<T>(out: *mut T, value: T) {
    if !out.is_null() {
        // SAFETY: the caller guarantees validity.
        unsafe { out.write(value) }
    }
}

/// Hands an owned string to an optional out-parameter: nothing is allocated (or leaked) when
/// `out` is NULL.
///
/// # Safety
///
/// `out` must be NULL or valid for writing one pointer.
pub(crate) unsafe fn write_opt_cstring(out: *mut *mut c_char, s: CString) {
    if !out.is_null() {
        // SAFETY: the caller guarantees validity.
        unsafe { out.write(s.into_raw()) }
    }
}

/// Hands a byte vector to C: `(ptr, len)`, freed by [`ocireg_bytes_free`]. Empty is `(NULL, 0)`.
pub(crate) fn bytes_into_raw(v: Vec<u8>) -> (*mut u8, usize) {
    if v.is_empty() {
        return (ptr::null_mut(), 0);
    }
    let b: Box<[u8]> = v.into_boxed_slice();
    let len = b.len();
    (Box::into_raw(b).cast::<u8>(), len)
}

/// Frees a string returned by the library (`char *`). NULL is a no-op.
///
/// # Safety
///
/// `s` must be NULL or a `char *` this library returned as owned, freed at most once. Never pass
/// a borrowed `const char *` (such as ocireg_error_message()).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ocireg_string_free(s: *mut c_char) {
    if !s.is_null() {
        // SAFETY: the caller guarantees `s` came from CString::into_raw and is freed once.
        guard((), || drop(unsafe { CString::from_raw(s) }));
    }
}

/// Frees a byte buffer returned by the library, with the length it was returned with. NULL is a
/// no-op.
///
/// # Safety
///
/// `ptr`/`len` must be NULL or exactly a buffer and length this library returned, freed at most
/// once.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ocireg_bytes_free(ptr: *mut u8, len: usize) {
    if !ptr.is_null() {
        // SAFETY: the caller guarantees the buffer came from `bytes_into_raw` with this length.
        guard((), || {
            drop(unsafe { Box::from_raw(std::ptr::slice_from_raw_parts_mut(ptr, len)) })
        });
    }
}

/// An immutable list of strings (tags, repositories). Free it with ocireg_string_list_free().
/// A `const ocireg_string_list *` may be read from any thread.
#[allow(non_camel_case_types)]
pub struct ocireg_string_list {
    items: Vec<CString>,
}

impl ocireg_string_list {
    /// Builds a list, failing if an item holds a NUL byte.
    pub(crate) fn from_strings(items: Vec<String>, what: &str) -> Result<Self, Failure> {
        let items = items
            .iter()
            .map(|s| out_cstring(s, what))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(ocireg_string_list { items })
    }
}

/// The number of strings in the list (0 when `list` is NULL).
///
/// # Safety
///
/// `list` must be NULL or a live list from this library.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ocireg_string_list_len(list: *const ocireg_string_list) -> usize {
    // SAFETY: the caller guarantees `list` is NULL or live.
    unsafe { read_or(list, 0, |l| l.items.len()) }
}

/// The string at `index` (UTF-8, NUL-terminated), or NULL when `index` is out of range or `list`
/// is NULL. The pointer is borrowed from the list and stays valid until
/// ocireg_string_list_free(list).
///
/// # Safety
///
/// `list` must be NULL or a live list from this library.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ocireg_string_list_get(
    list: *const ocireg_string_list,
    index: usize,
) -> *const c_char {
    // SAFETY: the caller guarantees `list` is NULL or live.
    match unsafe { list.as_ref() }.and_then(|l| l.items.get(index)) {
        Some(s) => s.as_ptr(),
        None => ptr::null(),
    }
}

/// Frees a string list and every string in it. NULL is a no-op.
///
/// # Safety
///
/// `list` must be NULL or a list from this library, freed at most once.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ocireg_string_list_free(list: *mut ocireg_string_list) {
    // SAFETY: the caller guarantees `list` came from Box::into_raw and is freed once.
    unsafe { free_box(list) }
}
