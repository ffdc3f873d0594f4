//! Names for the platform conditions the library switches on, so each is spelled once.

fn main() {
    cfg_aliases::cfg_aliases! {
        // Linux and FreeBSD share the calloop + work-stealing pool backend.
        linux_like: { any(target_os = "linux", target_os = "freebsd") },
        // A desktop OS: a main thread with an event loop and a pool of background threads.
        desktop: { any(linux_like, windows, target_os = "macos") },
        // The single-threaded wasm32 backend (browsers, Node, Cloudflare Workers).
        wasm: { target_arch = "wasm32" },
        // Inside workerd: wasm32 with the `cloudflare` feature (workers-rs bindings).
        workerd: { all(wasm, feature = "cloudflare") },
    }
}
