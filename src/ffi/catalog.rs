//! Ping, tags, catalog and search, whole or by page.

use std::ffi::{CString, c_char};

use super::client::{arg_client, arg_client_repo, ocireg_client};
use super::error::{Failure, boundary, ocireg_error, ocireg_status};
use super::strings::{arg_opt_str, arg_out, arg_str, ocireg_string_list, out_cstring, write_box};

/// Checks that the registry speaks the API v2 and accepts the credentials (`GET /v2/`, through
/// the whole Basic or Bearer challenge). Rejected credentials are `OCIREG_AUTHENTICATION`; an
/// unreachable registry `OCIREG_NETWORK` (or `OCIREG_TLS`, `OCIREG_TIMEOUT`).
///
/// # Safety
///
/// `client` must be a live client; `err` NULL or valid for writing a pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ocireg_ping(
    client: *const ocireg_client,
    err: *mut *mut ocireg_error,
) -> ocireg_status {
    // SAFETY: forwarded from this function's contract.
    unsafe {
        boundary(err, || {
            arg_client(client)?.ping()?;
            Ok(())
        })
    }
}

/// Every tag of `repository` (e.g. `"team/app"`), following all pages. An unknown repository is
/// `OCIREG_NOT_FOUND`. On success `*out` receives a list to free with ocireg_string_list_free().
///
/// # Safety
///
/// `client` must be a live client; `repository` a NUL-terminated string; `out` valid for writing
/// a pointer; `err` NULL or valid for writing a pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ocireg_tags(
    client: *const ocireg_client,
    repository: *const c_char,
    out: *mut *mut ocireg_string_list,
    err: *mut *mut ocireg_error,
) -> ocireg_status {
    // SAFETY: forwarded from this function's contract.
    unsafe {
        boundary(err, || {
            let (c, repo) = arg_client_repo(client, repository)?;
            arg_out(out, "out")?;
            let list = ocireg_string_list::from_strings(c.tags(repo)?, "a tag")?;
            write_box(out, list);
            Ok(())
        })
    }
}

/// Every repository in the registry's catalog (`/v2/_catalog`), following all pages. A registry
/// without a catalog (Docker Hub, many cloud registries) is `OCIREG_UNSUPPORTED`. On success
/// `*out` receives a list to free with ocireg_string_list_free().
///
/// # Safety
///
/// `client` must be a live client; `out` valid for writing a pointer; `err` NULL or valid for
/// writing a pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ocireg_catalog(
    client: *const ocireg_client,
    out: *mut *mut ocireg_string_list,
    err: *mut *mut ocireg_error,
) -> ocireg_status {
    // SAFETY: forwarded from this function's contract.
    unsafe {
        boundary(err, || {
            let c = arg_client(client)?;
            arg_out(out, "out")?;
            let list = ocireg_string_list::from_strings(c.catalog()?, "a repository name")?;
            write_box(out, list);
            Ok(())
        })
    }
}

/// The repositories whose name contains `pattern` (a plain, case-sensitive substring; `""`
/// lists everything), found by walking every page of the catalog. On success `*out` receives a
/// list to free with ocireg_string_list_free().
///
/// # Safety
///
/// `client` must be a live client; `pattern` a NUL-terminated string; `out` valid for writing a
/// pointer; `err` NULL or valid for writing a pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ocireg_search(
    client: *const ocireg_client,
    pattern: *const c_char,
    out: *mut *mut ocireg_string_list,
    err: *mut *mut ocireg_error,
) -> ocireg_status {
    // SAFETY: forwarded from this function's contract.
    unsafe {
        boundary(err, || {
            let c = arg_client(client)?;
            let pattern = arg_str(pattern, "pattern")?;
            arg_out(out, "out")?;
            let list = ocireg_string_list::from_strings(c.search(pattern)?, "a repository name")?;
            write_box(out, list);
            Ok(())
        })
    }
}

/// Writes one page: the list, and the cursor of the next page (NULL when there is none).
///
/// # Safety
///
/// `out` valid for writing a pointer (checked); `out_next` NULL or valid for writing a pointer.
unsafe fn write_page(
    page: crate::catalog::Page,
    what: &str,
    out: *mut *mut ocireg_string_list,
    out_next: *mut *mut c_char,
) -> Result<(), Failure> {
    let next = match &page.next {
        Some(n) => Some(out_cstring(n, "the next-page cursor")?),
        None => None,
    };
    let list = ocireg_string_list::from_strings(page.items, what)?;
    // SAFETY: forwarded from the caller.
    unsafe {
        write_box(out, list);
        if !out_next.is_null() {
            *out_next = next.map_or(std::ptr::null_mut(), CString::into_raw);
        }
    }
    Ok(())
}

/// One page of the tags of `repository`: at most `n` tags (0: the registry's default page size;
/// registries may return fewer), after the tag `last` (NULL: from the start). On success `*out`
/// receives the page (free with ocireg_string_list_free()) and `*out_next` (optional) the
/// `last` to pass for the next page, or NULL when this was the last page (free with
/// ocireg_string_free()).
///
/// # Safety
///
/// `client` must be a live client; `repository` a NUL-terminated string; `last` NULL or a
/// NUL-terminated string; `out` valid for writing a pointer; `out_next` NULL or valid for writing
/// a pointer; `err` NULL or valid for writing a pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ocireg_tags_page(
    client: *const ocireg_client,
    repository: *const c_char,
    n: u32,
    last: *const c_char,
    out: *mut *mut ocireg_string_list,
    out_next: *mut *mut c_char,
    err: *mut *mut ocireg_error,
) -> ocireg_status {
    // SAFETY: forwarded from this function's contract.
    unsafe {
        boundary(err, || {
            let (c, repo) = arg_client_repo(client, repository)?;
            let last = arg_opt_str(last, "last")?;
            arg_out(out, "out")?;
            let n = (n > 0).then_some(n as usize);
            let page = c.tags_page(repo, n, last)?;
            write_page(page, "a tag", out, out_next)
        })
    }
}

/// One page of the catalog: at most `n` repositories (0: the registry's default page size),
/// after the repository `last` (NULL: from the start). Outputs as ocireg_tags_page().
///
/// # Safety
///
/// `client` must be a live client; `last` NULL or a NUL-terminated string; `out` valid for
/// writing a pointer; `out_next` NULL or valid for writing a pointer; `err` NULL or valid for
/// writing a pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ocireg_catalog_page(
    client: *const ocireg_client,
    n: u32,
    last: *const c_char,
    out: *mut *mut ocireg_string_list,
    out_next: *mut *mut c_char,
    err: *mut *mut ocireg_error,
) -> ocireg_status {
    // SAFETY: forwarded from this function's contract.
    unsafe {
        boundary(err, || {
            let c = arg_client(client)?;
            let last = arg_opt_str(last, "last")?;
            arg_out(out, "out")?;
            let n = (n > 0).then_some(n as usize);
            let page = c.catalog_page(n, last)?;
            write_page(page, "a repository name", out, out_next)
        })
    }
}
