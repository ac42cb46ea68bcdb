//! What the application decides in the CIBA flow: who the hint names, and how the user is
//! asked on their authentication device.

use ciba_server::{BoxFuture, FailReason, Ticket};

use crate::server::handle::AsHandle;
use crate::server::pending::PendingRequest;

/// The application's part of the flow. Both methods are async (they return a
/// [`BoxFuture`], so the hooks work as `Arc<dyn AuthorizationHooks>`): a user directory or an
/// authentication service may sit across the network. They run on the server's async
/// workers, so they must never block a thread: await your network calls, and bound their
/// wait yourself (a hook that never answers keeps its request waiting).
///
/// A hook with its answer at hand returns `Box::pin(std::future::ready(answer))`; one that
/// waits returns `Box::pin(async move { ... })`:
///
/// ```
/// use ciba_hyper::server::{AsHandle, AuthorizationHooks, BoxFuture, PendingRequest};
/// use ciba_server::{AuthenticationResult, Authorization, FailReason, Ticket};
///
/// struct Directory;
///
/// impl Directory {
///     /// Looks a user up (a database or an LDAP query in a real server).
///     async fn find(&self, hint: &str) -> Option<String> {
///         (hint == "alice@example.com").then(|| "alice".to_owned())
///     }
/// }
///
/// impl AuthorizationHooks for Directory {
///     fn identify_user<'a>(&'a self, ticket: &'a Ticket) -> BoxFuture<'a, Result<String, FailReason>> {
///         Box::pin(async move {
///             self.find(ticket.hint.value()).await.ok_or(FailReason::UnknownUserId)
///         })
///     }
///
///     fn authentication_requested(&self, request: PendingRequest, handle: AsHandle) -> BoxFuture<'_, ()> {
///         Box::pin(async move {
///             // Ask the user's device here; this example approves at once.
///             let approval = AuthenticationResult::Authorized(Authorization::new(&request.subject));
///             let _ = handle.complete(&request.auth_req_id, approval).await;
///         })
///     }
/// }
/// ```
pub trait AuthorizationHooks: Send + Sync + 'static {
    /// Identifies the user the request's hint names (`ticket.hint`, CIBA Core 7.1): the
    /// subject, or the reason to refuse (for example `FailReason::UnknownUserId`). Awaited
    /// while the backchannel request waits for its answer.
    fn identify_user<'a>(&'a self, ticket: &'a Ticket)
    -> BoxFuture<'a, Result<String, FailReason>>;

    /// The request was stored and is being acknowledged: start the user's authentication on
    /// their device, and record the result with [`AsHandle::complete`] (now, or later from
    /// a device page).
    ///
    /// It runs in a task of its own, spawned once the request is in the store: the
    /// acknowledgement does not wait for it, and a client that hangs up does not cancel it.
    /// The default does nothing: the request stays in [`AsHandle::pending`] until it is
    /// completed (by any instance sharing the store) or expires.
    fn authentication_requested(
        &self,
        request: PendingRequest,
        handle: AsHandle,
    ) -> BoxFuture<'_, ()> {
        let _ = (request, handle);
        Box::pin(std::future::ready(()))
    }
}
