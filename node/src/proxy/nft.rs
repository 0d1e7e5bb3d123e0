//! libnftables, loaded when the first Service needs rules: the library that
//! the `nft` program is a front end of. It takes a whole JSON document (the
//! schema of `libnftables-json(5)`) and commits it to the kernel over netlink
//! as one transaction, so a table is replaced atomically and a half-written
//! rule set is never seen. podrt does not run `nft`; it calls the library in
//! its own process, in the agent's network namespace.
//!
//! Loaded with `dlopen` rather than linked: only the agent with Services needs
//! it, so `podrt`, its supervisors and `podrt-runc` start on hosts without it,
//! and a missing library is one clear error naming Debian's package.

use std::ffi::{c_char, c_int, c_uint, c_void, CStr, CString};

use libloading::{Library, Symbol};

/// The library's file, as Debian's `libnftables1` installs it.
const LIBRARY: &str = "libnftables.so.1";

/// `NFT_CTX_DEFAULT`.
const CTX_DEFAULT: u32 = 0;
/// `NFT_CTX_OUTPUT_JSON`: also makes the parser take JSON input.
const OUTPUT_JSON: c_uint = 1 << 4;

type CtxNew = unsafe extern "C" fn(u32) -> *mut c_void;
type CtxFree = unsafe extern "C" fn(*mut c_void);
type SetFlags = unsafe extern "C" fn(*mut c_void, c_uint);
type BufferOn = unsafe extern "C" fn(*mut c_void) -> c_int;
type GetBuffer = unsafe extern "C" fn(*mut c_void) -> *const c_char;
type RunCmd = unsafe extern "C" fn(*mut c_void, *const c_char) -> c_int;

/// Why libnftables could not be used.
#[derive(Debug, thiserror::Error)]
pub(crate) enum NftError {
    /// The library is not installed, or lacks a function.
    #[error("loading {LIBRARY} (Debian's package libnftables1), which writes Services' nftables rules: {0}")]
    Load(#[from] libloading::Error),
    /// The library could not make a context.
    #[error("libnftables could not allocate a context")]
    Context,
    /// The kernel or the library refused the commands.
    #[error("nftables refused the rules: {0}")]
    Refused(String),
}

/// One libnftables context, its output and errors kept in buffers.
pub(crate) struct Nft {
    ctx: *mut c_void,
    run: RunCmd,
    errors: GetBuffer,
    output: GetBuffer,
    free: CtxFree,
    // Last: the functions above point into it.
    _lib: Library,
}

impl std::fmt::Debug for Nft {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Nft")
    }
}

/// Copies one function pointer out of `lib`.
fn symbol<T: Copy>(lib: &Library, name: &[u8]) -> Result<T, NftError> {
    // SAFETY: each caller names a libnftables function with the C signature
    // its type `T` spells (from nftables/libnftables.h, stable since 0.9).
    let f: Symbol<'_, T> = unsafe { lib.get(name)? };
    Ok(*f)
}

impl Nft {
    /// Loads the library and makes a context that takes JSON.
    pub(crate) fn open() -> Result<Nft, NftError> {
        // SAFETY: loading runs the library's initialisers; libnftables' (and
        // libnftnl's, libmnl's, jansson's) only set up their own globals.
        let lib = unsafe { Library::new(LIBRARY)? };
        let new: CtxNew = symbol(&lib, b"nft_ctx_new\0")?;
        let free: CtxFree = symbol(&lib, b"nft_ctx_free\0")?;
        let set_flags: SetFlags = symbol(&lib, b"nft_ctx_output_set_flags\0")?;
        let buffer_output: BufferOn = symbol(&lib, b"nft_ctx_buffer_output\0")?;
        let buffer_error: BufferOn = symbol(&lib, b"nft_ctx_buffer_error\0")?;
        let output: GetBuffer = symbol(&lib, b"nft_ctx_get_output_buffer\0")?;
        let errors: GetBuffer = symbol(&lib, b"nft_ctx_get_error_buffer\0")?;
        let run: RunCmd = symbol(&lib, b"nft_run_cmd_from_buffer\0")?;
        // SAFETY: nft_ctx_new takes flags by value and returns an owned
        // context or NULL.
        let ctx = unsafe { new(CTX_DEFAULT) };
        if ctx.is_null() {
            return Err(NftError::Context);
        }
        // SAFETY: ctx is the live context just made; these only set its fields.
        unsafe {
            set_flags(ctx, OUTPUT_JSON);
            buffer_output(ctx);
            buffer_error(ctx);
        }
        Ok(Nft {
            ctx,
            run,
            errors,
            output,
            free,
            _lib: lib,
        })
    }

    /// Runs `json` (a libnftables-json document) as one transaction; what
    /// it printed (the answer to `list` commands).
    pub(crate) fn run(&mut self, json: &str) -> Result<String, NftError> {
        let text = CString::new(json).map_err(|e| NftError::Refused(e.to_string()))?;
        // SAFETY: ctx is live and owned by self (&mut: one call at a time);
        // text is a NUL-terminated string that outlives the call.
        let rc = unsafe { (self.run)(self.ctx, text.as_ptr()) };
        let errors = self.buffer(self.errors);
        let output = self.buffer(self.output);
        if rc != 0 {
            return Err(NftError::Refused(if errors.trim().is_empty() {
                format!("libnftables returned {rc}")
            } else {
                errors.trim().to_string()
            }));
        }
        Ok(output)
    }

    /// The text of one of the context's buffers (each read empties it).
    fn buffer(&self, get: GetBuffer) -> String {
        // SAFETY: ctx is live; the buffer getters return NULL or a
        // NUL-terminated string owned by the context, valid until its next
        // command, and copied here at once.
        let ptr = unsafe { get(self.ctx) };
        if ptr.is_null() {
            return String::new();
        }
        // SAFETY: as above: non-NULL and NUL-terminated.
        unsafe { CStr::from_ptr(ptr) }
            .to_string_lossy()
            .into_owned()
    }
}

impl Drop for Nft {
    fn drop(&mut self) {
        // SAFETY: ctx was made by nft_ctx_new and is freed once, here, while
        // the library is still loaded (`_lib` drops after this).
        unsafe { (self.free)(self.ctx) };
    }
}
