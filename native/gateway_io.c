// pier's native transport for gateway connections (uwsgi behind nginx): accept, read, write and
// close on plain file descriptors, polled through one private epoll instance that sits in
// Node's event loop as a single uv_poll handle.
//
// nginx opens a new uwsgi connection for every request, so what a connection costs before the
// app runs is paid at the full request rate. In Node that is a handle object per connection,
// a JavaScript callback for the accept, one for each read and one for each write. Here a
// connection is a slot in a table indexed by its fd; a batch of ready descriptors costs one
// entry into JavaScript per event, all under one callback scope, and a write that the kernel
// takes whole (a uwsgi response nearly always is) returns at once, with nothing to complete.
// A TCP connection is accepted once its request is there (TCP_DEFER_ACCEPT) and read with the
// accept, so the usual request is read, answered and closed before its fd enters the epoll set,
// and the answer and the close leave in one segment (MSG_MORE, then close).
//
// JavaScript sees connections as (fd, generation) pairs: a slot's generation moves on when its
// fd is closed, so a late call for a connection that is gone (its fd maybe reused) is refused
// instead of touching the new one. Events go to one JavaScript function:
//   onEvent(kind, fd, gen, arg, arg2), all integers
//     ACCEPTED  a new connection, arg = the listener's index, arg2 = bytes already read (in the
//               shared read buffer, as for DATA)
//     DATA      bytes read, arg = their count; the bytes are at the start of the shared
//               read buffer (start() returns it) until the next event
//     END       the peer ended its side (reads stop; writes still go)
//     CLOSED    the connection failed (read or write error) and is closed, arg = -errno
//     DRAINED   queued output is all sent
//     ACCEPT_ERROR  accept failed (fd = -1, gen = the listener's index, arg = -errno)
// Linux only (epoll, accept4); elsewhere the module does not build and pier uses its
// JavaScript transports.
#define NAPI_VERSION 8
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <node_api.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

enum { EV_ACCEPTED = 0, EV_DATA = 1, EV_END = 2, EV_CLOSED = 3, EV_DRAINED = 4, EV_ACCEPT_ERROR = 5 };

#define MAX_LISTENERS 64
#define READ_SIZE 65536
#define BATCH 128
// Accepts per wakeup and listener: a worker that takes every waiting connection would leave its
// siblings idle.
#define ACCEPT_BURST 16
// epoll data: listeners are tagged above every possible fd.
#define LISTENER_TAG (UINT64_C(1) << 40)

typedef struct {
  int open;
  int gen;
  int reading;   // wants EPOLLIN
  int discard;   // a lingering close: read and drop until the peer ends
  int ended;     // the peer's end was seen: no more reads
  uint32_t registered;  // the events epoll has for this fd; 0 = not in the set
  char *out;     // bytes the kernel has not taken yet
  size_t out_len;
  size_t out_off;
} conn_t;

typedef struct {
  int fd;        // -1: a free entry
  int paused;    // out of the epoll set after EMFILE, until the retry timer
} listener_t;

typedef struct {
  napi_env env;
  int epfd;
  uv_poll_t poll;
  uv_timer_t retry;
  napi_ref on_event;
  napi_ref resource;
  napi_ref read_buffer;  // the ArrayBuffer read_buf lives in, shared with JavaScript
  napi_async_context async_context;
  conn_t *conns;
  int conn_cap;
  int open_conns;
  listener_t listeners[MAX_LISTENERS];
  int active_listeners;
  char *read_buf;
} state_t;

static state_t *state_of(napi_env env) {
  void *data = NULL;
  napi_get_instance_data(env, &data);
  return data;
}

// ---- epoll bookkeeping ----------------------------------------------------------------------

static void keep_loop_alive(state_t *s) {
  if (s->active_listeners > 0 || s->open_conns > 0)
    uv_ref((uv_handle_t *)&s->poll);
  else
    uv_unref((uv_handle_t *)&s->poll);
}

static uint32_t conn_events(const conn_t *c) {
  uint32_t want = 0;
  if (c->reading && !c->ended) want |= EPOLLIN;
  if (c->out) want |= EPOLLOUT;
  return want;
}

// Brings the epoll registration of `fd` in line with what the connection wants. A connection
// that wants nothing leaves the set: epoll reports a hang-up whatever the mask, and a paused
// connection would otherwise wake the loop again and again.
static void conn_sync(state_t *s, int fd) {
  conn_t *c = &s->conns[fd];
  uint32_t want = conn_events(c);
  if (want == c->registered) return;
  struct epoll_event ev = {.events = want, .data.u64 = (uint64_t)fd};
  if (want == 0)
    epoll_ctl(s->epfd, EPOLL_CTL_DEL, fd, NULL);
  else
    epoll_ctl(s->epfd, c->registered ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, fd, &ev);
  c->registered = want;
}

static int grow_conns(state_t *s, int fd) {
  if (fd < s->conn_cap) return 0;
  int cap = s->conn_cap ? s->conn_cap : 1024;
  while (cap <= fd) cap *= 2;
  conn_t *grown = realloc(s->conns, (size_t)cap * sizeof(conn_t));
  if (!grown) return -ENOMEM;
  memset(grown + s->conn_cap, 0, (size_t)(cap - s->conn_cap) * sizeof(conn_t));
  s->conns = grown;
  s->conn_cap = cap;
  return 0;
}

// Closes the fd (with a reset when `reset`) and frees the slot; the generation moves on.
static void conn_close(state_t *s, int fd, int reset) {
  conn_t *c = &s->conns[fd];
  if (!c->open) return;
  if (reset) {
    struct linger hard = {.l_onoff = 1, .l_linger = 0};
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &hard, sizeof hard);
  }
  // Closing removes the fd from the epoll set: it was accepted here, nobody else holds it.
  close(fd);
  free(c->out);
  int gen = c->gen;
  memset(c, 0, sizeof *c);
  c->gen = (gen + 1) & 0x3fffffff;
  s->open_conns--;
  keep_loop_alive(s);
}

// ---- calls into JavaScript --------------------------------------------------------------------

static void emit(state_t *s, int kind, int fd, int gen, int arg, int arg2) {
  napi_env env = s->env;
  napi_value fn, recv, argv[5];
  napi_get_reference_value(env, s->on_event, &fn);
  napi_get_undefined(env, &recv);
  napi_create_int32(env, kind, &argv[0]);
  napi_create_int32(env, fd, &argv[1]);
  napi_create_int32(env, gen, &argv[2]);
  napi_create_int32(env, arg, &argv[3]);
  napi_create_int32(env, arg2, &argv[4]);
  napi_value result;
  if (napi_call_function(env, recv, fn, 5, argv, &result) == napi_pending_exception) {
    // The JavaScript side catches its own errors; one that escapes is the process's to report.
    napi_value error;
    napi_get_and_clear_last_exception(env, &error);
    napi_fatal_exception(env, error);
  }
}

// ---- listeners ------------------------------------------------------------------------------

static void listener_add(state_t *s, int index) {
  // The listening socket is shared by every worker: EPOLLEXCLUSIVE wakes one of them per
  // connection instead of all (the others would find nothing to accept).
  struct epoll_event ev = {.events = EPOLLIN | EPOLLEXCLUSIVE, .data.u64 = LISTENER_TAG | (uint64_t)index};
  epoll_ctl(s->epfd, EPOLL_CTL_ADD, s->listeners[index].fd, &ev);
}

static void on_retry(uv_timer_t *timer) {
  state_t *s = timer->data;
  for (int i = 0; i < MAX_LISTENERS; i++) {
    if (s->listeners[i].fd >= 0 && s->listeners[i].paused) {
      s->listeners[i].paused = 0;
      listener_add(s, i);
    }
  }
}

static void accept_some(state_t *s, int index) {
  listener_t *l = &s->listeners[index];
  for (int i = 0; i < ACCEPT_BURST && l->fd >= 0 && !l->paused; i++) {
    int fd = accept4(l->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      int err = errno;
      if (err == EAGAIN || err == EWOULDBLOCK) return;
      if (err == EINTR || err == ECONNABORTED) continue;
      if (err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM) {
        // Out of descriptors: the pending connection stays in the backlog, and a level-triggered
        // listener would wake us at once again. Step out of the set for a while.
        epoll_ctl(s->epfd, EPOLL_CTL_DEL, l->fd, NULL);
        l->paused = 1;
        uv_timer_start(&s->retry, on_retry, 100, 0);
      }
      emit(s, EV_ACCEPT_ERROR, -1, index, -err, 0);
      return;
    }
    if (grow_conns(s, fd) != 0) {
      close(fd);
      emit(s, EV_ACCEPT_ERROR, -1, index, -ENOMEM, 0);
      return;
    }
    conn_t *c = &s->conns[fd];
    int gen = c->gen;
    c->open = 1;
    c->reading = 1;
    s->open_conns++;
    keep_loop_alive(s);
    // The request is usually here already (TCP_DEFER_ACCEPT holds a TCP connection back until
    // its first bytes come): read it now and hand it over with the connection, so a request
    // answered at once is read, served, written and closed before its fd ever enters the
    // epoll set.
    ssize_t n = read(fd, s->read_buf, READ_SIZE);
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
      conn_close(s, fd, 0);  // reset before a byte came: nothing to tell anyone
      continue;
    }
    emit(s, EV_ACCEPTED, fd, gen, index, n > 0 ? (int)n : 0);
    if (n == 0 && c->open && c->gen == gen) {
      c->ended = 1;
      emit(s, EV_END, fd, gen, 0, 0);
    }
    if (c->open && c->gen == gen) conn_sync(s, fd);
  }
}

// ---- connections ------------------------------------------------------------------------------

static void conn_readable(state_t *s, int fd) {
  conn_t *c = &s->conns[fd];
  int gen = c->gen;
  ssize_t n = read(fd, s->read_buf, READ_SIZE);
  if (n < 0) {
    int err = errno;
    if (err == EAGAIN || err == EWOULDBLOCK || err == EINTR) return;
    conn_close(s, fd, 0);
    emit(s, EV_CLOSED, fd, gen, -err, 0);
    return;
  }
  if (n == 0) {
    c->ended = 1;
    conn_sync(s, fd);
    if (c->discard) {
      conn_close(s, fd, 0);
      emit(s, EV_CLOSED, fd, gen, 0, 0);
    } else {
      emit(s, EV_END, fd, gen, 0, 0);
    }
    return;
  }
  if (c->discard) return;
  emit(s, EV_DATA, fd, gen, (int)n, 0);
}

// Sends as much of bytes[*sent..length) as the kernel takes, moving *sent on; 0 when the kernel
// is full or all is sent, -errno on failure.
static int send_some(int fd, const char *bytes, size_t length, size_t *sent, int flags) {
  while (*sent < length) {
    ssize_t n = send(fd, bytes + *sent, length - *sent, MSG_NOSIGNAL | flags);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return 0;
      return -errno;
    }
    *sent += (size_t)n;
  }
  return 0;
}

// Sends queued output; 1 when all of it is gone, 0 when the kernel is full, -errno on failure.
static int conn_flush(conn_t *c, int fd) {
  int err = send_some(fd, c->out, c->out_len, &c->out_off, 0);
  if (err < 0) return err;
  if (c->out_off < c->out_len) return 0;
  free(c->out);
  c->out = NULL;
  c->out_len = c->out_off = 0;
  return 1;
}

static void conn_writable(state_t *s, int fd) {
  conn_t *c = &s->conns[fd];
  if (!c->out) return;
  int gen = c->gen;
  int done = conn_flush(c, fd);
  if (done < 0) {
    conn_close(s, fd, 0);
    emit(s, EV_CLOSED, fd, gen, done, 0);
    return;
  }
  if (done == 0) return;
  conn_sync(s, fd);
  emit(s, EV_DRAINED, fd, gen, 0, 0);
}

static void on_poll(uv_poll_t *handle, int status, int events) {
  (void)status;
  (void)events;
  state_t *s = handle->data;
  struct epoll_event ready[BATCH];
  int n = epoll_wait(s->epfd, ready, BATCH, 0);
  if (n <= 0) return;
  napi_env env = s->env;
  napi_handle_scope scope;
  napi_open_handle_scope(env, &scope);
  napi_value resource;
  napi_get_reference_value(env, s->resource, &resource);
  // One callback scope for the whole batch: queued ticks and microtasks run once, at its end.
  napi_callback_scope callback_scope;
  napi_open_callback_scope(env, resource, s->async_context, &callback_scope);
  for (int i = 0; i < n; i++) {
    uint64_t tag = ready[i].data.u64;
    if (tag & LISTENER_TAG) {
      accept_some(s, (int)(tag & 0xffff));
      continue;
    }
    int fd = (int)tag;
    // Every event is only a hint: an earlier one in this batch may have closed the fd (and an
    // accept reused it), so each step checks the slot and takes EAGAIN as "nothing".
    uint32_t what = ready[i].events;
    if (fd < s->conn_cap && s->conns[fd].open && (what & (EPOLLOUT | EPOLLERR | EPOLLHUP)))
      conn_writable(s, fd);
    if (fd < s->conn_cap && s->conns[fd].open && (what & (EPOLLIN | EPOLLERR | EPOLLHUP)) &&
        s->conns[fd].reading && !s->conns[fd].ended)
      conn_readable(s, fd);
  }
  napi_close_callback_scope(env, callback_scope);
  napi_close_handle_scope(env, scope);
}

// ---- the JavaScript API ---------------------------------------------------------------------

#define ARGS(count)                                                                \
  size_t argc = count;                                                             \
  napi_value argv[count];                                                          \
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);                            \
  state_t *s = state_of(env);

// The arguments of a call about one connection (fd, gen first): `c` and `fd` for it, or the
// call answers -EBADF when that connection is closed.
#define CONN_ARGS(count)                                                           \
  ARGS(count);                                                                     \
  int fd;                                                                          \
  conn_t *c = conn_arg(env, s, argv, &fd);                                         \
  if (!c) return int_result(env, -EBADF);

static int32_t int_arg(napi_env env, napi_value value) {
  int32_t out = -1;
  napi_get_value_int32(env, value, &out);
  return out;
}

static napi_value int_result(napi_env env, int64_t value) {
  napi_value out;
  napi_create_int64(env, value, &out);
  return out;
}

// The open connection (fd, gen), or NULL when it is gone.
static conn_t *conn_arg(napi_env env, state_t *s, napi_value *argv, int *fd_out) {
  int fd = int_arg(env, argv[0]);
  int gen = int_arg(env, argv[1]);
  if (!s || fd < 0 || fd >= s->conn_cap) return NULL;
  conn_t *c = &s->conns[fd];
  if (!c->open || c->gen != gen) return NULL;
  *fd_out = fd;
  return c;
}

// start(onEvent) → the shared read buffer: sets up the epoll instance in this thread's loop.
// A second call answers 0.
static napi_value js_start(napi_env env, napi_callback_info info) {
  ARGS(1);
  if (s) return int_result(env, 0);
  s = calloc(1, sizeof *s);
  s->env = env;
  for (int i = 0; i < MAX_LISTENERS; i++) s->listeners[i].fd = -1;
  s->epfd = epoll_create1(EPOLL_CLOEXEC);
  if (s->epfd < 0) {
    int err = errno;
    free(s);
    return int_result(env, -err);
  }
  // Reads land in one ArrayBuffer that JavaScript sees too: an event carries only the byte
  // count, and JavaScript copies what it keeps (no buffer allocated per read).
  napi_value shared;
  napi_create_arraybuffer(env, READ_SIZE, (void **)&s->read_buf, &shared);
  napi_create_reference(env, shared, 1, &s->read_buffer);
  uv_loop_t *loop;
  napi_get_uv_event_loop(env, &loop);
  uv_poll_init(loop, &s->poll, s->epfd);
  s->poll.data = s;
  uv_timer_init(loop, &s->retry);
  s->retry.data = s;
  uv_unref((uv_handle_t *)&s->retry);
  napi_create_reference(env, argv[0], 1, &s->on_event);
  napi_value resource, name;
  napi_create_object(env, &resource);
  napi_create_reference(env, resource, 1, &s->resource);
  napi_create_string_utf8(env, "pier.gatewayIo", NAPI_AUTO_LENGTH, &name);
  napi_async_init(env, resource, name, &s->async_context);
  napi_set_instance_data(env, s, NULL, NULL);
  uv_poll_start(&s->poll, UV_READABLE, on_poll);
  keep_loop_alive(s);
  return shared;
}

// listen(fd, backlog) → the listener's index, or -errno. The fd stays the caller's (closing it
// is the caller's job, after unlisten).
static napi_value js_listen(napi_env env, napi_callback_info info) {
  ARGS(2);
  int fd = int_arg(env, argv[0]);
  int backlog = int_arg(env, argv[1]);
  if (!s || fd < 0) return int_result(env, -EBADF);
  int index = 0;
  while (index < MAX_LISTENERS && s->listeners[index].fd >= 0) index++;
  if (index == MAX_LISTENERS) return int_result(env, -EMFILE);
  if (listen(fd, backlog) != 0) return int_result(env, -errno);
  // Accept a TCP connection only once its first bytes have come (nginx sends the whole uwsgi
  // packet at once): one wakeup per request instead of two. A connection that stays silent is
  // still accepted after `defer` seconds, and then meets the head timeout. Unix sockets have
  // no such option; the call fails there and nothing changes.
  int defer = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_DEFER_ACCEPT, &defer, sizeof defer);
  int flags = fcntl(fd, F_GETFL);
  if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) != 0) return int_result(env, -errno);
  s->listeners[index].fd = fd;
  s->listeners[index].paused = 0;
  s->active_listeners++;
  listener_add(s, index);
  keep_loop_alive(s);
  return int_result(env, index);
}

// unlisten(index): stops accepting. The listening socket is shared with other processes, so
// it must leave this epoll set by hand before its fd is closed (closing alone would not do).
static napi_value js_unlisten(napi_env env, napi_callback_info info) {
  ARGS(1);
  int index = int_arg(env, argv[0]);
  if (!s || index < 0 || index >= MAX_LISTENERS || s->listeners[index].fd < 0) return int_result(env, -EBADF);
  if (!s->listeners[index].paused) epoll_ctl(s->epfd, EPOLL_CTL_DEL, s->listeners[index].fd, NULL);
  s->listeners[index].fd = -1;
  s->active_listeners--;
  keep_loop_alive(s);
  return int_result(env, 0);
}

// write(fd, gen, bytes, more) → bytes still queued (0: all sent), or -errno. With `more`
// (MSG_MORE), a short write may wait in the kernel for what follows; a close right after
// sends it with the FIN, in one segment.
static napi_value js_write(napi_env env, napi_callback_info info) {
  CONN_ARGS(4);
  void *data;
  size_t length;
  if (napi_get_buffer_info(env, argv[2], &data, &length) != napi_ok) {
    napi_typedarray_type type;
    napi_value array_buffer;
    size_t offset;
    if (napi_get_typedarray_info(env, argv[2], &type, &length, &data, &array_buffer, &offset) != napi_ok)
      return int_result(env, -EINVAL);
  }
  bool more = false;
  napi_get_value_bool(env, argv[3], &more);
  size_t sent = 0;
  if (!c->out) {
    int err = send_some(fd, data, length, &sent, more ? MSG_MORE : 0);
    if (err < 0) return int_result(env, err);
    if (sent == length) return int_result(env, 0);
  }
  size_t rest = length - sent;
  size_t queued = c->out ? c->out_len - c->out_off : 0;
  char *out = malloc(queued + rest);
  if (!out) return int_result(env, -ENOMEM);
  if (queued) memcpy(out, c->out + c->out_off, queued);
  memcpy(out + queued, (char *)data + sent, rest);
  free(c->out);
  c->out = out;
  c->out_off = 0;
  c->out_len = queued + rest;
  conn_sync(s, fd);
  return int_result(env, (int64_t)c->out_len);
}

// pause(fd, gen, paused): stops or restarts reading.
static napi_value js_pause(napi_env env, napi_callback_info info) {
  CONN_ARGS(3);
  bool paused = false;
  napi_get_value_bool(env, argv[2], &paused);
  c->reading = !paused;
  conn_sync(s, fd);
  return int_result(env, 0);
}

// shutdown(fd, gen): ends our side and drops what the peer still sends, until it ends too
// (then CLOSED) or the caller closes.
static napi_value js_shutdown(napi_env env, napi_callback_info info) {
  CONN_ARGS(2);
  if (shutdown(fd, SHUT_WR) != 0) return int_result(env, -errno);
  c->discard = 1;
  c->reading = 1;
  conn_sync(s, fd);
  return int_result(env, 0);
}

// close(fd, gen, reset): closes now, dropping queued output; with `reset`, with a TCP RST.
static napi_value js_close(napi_env env, napi_callback_info info) {
  CONN_ARGS(3);
  bool reset = false;
  napi_get_value_bool(env, argv[2], &reset);
  conn_close(s, fd, reset);
  return int_result(env, 0);
}

// noDelay(fd, gen)
static napi_value js_no_delay(napi_env env, napi_callback_info info) {
  CONN_ARGS(2);
  int on = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);  // fails harmlessly on unix sockets
  return int_result(env, 0);
}

// peer(fd, gen) → [address, port] for TCP, [] for a unix socket, undefined when gone.
static napi_value js_peer(napi_env env, napi_callback_info info) {
  ARGS(2);
  napi_value out;
  napi_get_undefined(env, &out);
  int fd;
  conn_t *c = conn_arg(env, s, argv, &fd);
  if (!c) return out;
  struct sockaddr_storage address;
  socklen_t size = sizeof address;
  if (getpeername(fd, (struct sockaddr *)&address, &size) != 0) return out;
  napi_create_array(env, &out);
  char text[INET6_ADDRSTRLEN] = "";
  int port = -1;
  if (address.ss_family == AF_INET) {
    struct sockaddr_in *in = (struct sockaddr_in *)&address;
    inet_ntop(AF_INET, &in->sin_addr, text, sizeof text);
    port = ntohs(in->sin_port);
  } else if (address.ss_family == AF_INET6) {
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&address;
    inet_ntop(AF_INET6, &in6->sin6_addr, text, sizeof text);
    port = ntohs(in6->sin6_port);
  }
  if (port >= 0) {
    napi_value host, number;
    napi_create_string_utf8(env, text, NAPI_AUTO_LENGTH, &host);
    napi_create_int32(env, port, &number);
    napi_set_element(env, out, 0, host);
    napi_set_element(env, out, 1, number);
  }
  return out;
}

// reusePortSocket(address, port) → the fd of a new TCP socket bound to address:port (an IPv4 or
// IPv6 literal) with SO_REUSEPORT, not yet listening; or -errno. The master binds one per
// worker (the `reuse-port` option): the kernel spreads new connections over the sockets by a
// hash of their addresses (socket(7), SO_REUSEPORT), so no worker takes them all in one wake-up.
static napi_value js_reuse_port_socket(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  char text[INET6_ADDRSTRLEN + 1] = "";
  size_t length = 0;
  int32_t port = 0;
  if (napi_get_value_string_utf8(env, argv[0], text, sizeof text, &length) != napi_ok ||
      napi_get_value_int32(env, argv[1], &port) != napi_ok || port < 0 || port > 65535)
    return int_result(env, -EINVAL);
  struct sockaddr_storage address;
  memset(&address, 0, sizeof address);
  socklen_t size;
  struct sockaddr_in *in = (struct sockaddr_in *)&address;
  struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&address;
  if (inet_pton(AF_INET, text, &in->sin_addr) == 1) {
    in->sin_family = AF_INET;
    in->sin_port = htons((uint16_t)port);
    size = sizeof *in;
  } else if (inet_pton(AF_INET6, text, &in6->sin6_addr) == 1) {
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons((uint16_t)port);
    size = sizeof *in6;
  } else {
    return int_result(env, -EINVAL);
  }
  int fd = socket(address.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return int_result(env, -errno);
  int on = 1;
  // SO_REUSEADDR as libuv sets it on every TCP listener (a restart binds past TIME_WAIT).
  if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on) != 0 ||
      setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof on) != 0 ||
      bind(fd, (struct sockaddr *)&address, size) != 0) {
    int error = errno;
    close(fd);
    return int_result(env, -error);
  }
  return int_result(env, fd);
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor api[] = {
      {"start", NULL, js_start, NULL, NULL, NULL, napi_default, NULL},
      {"listen", NULL, js_listen, NULL, NULL, NULL, napi_default, NULL},
      {"unlisten", NULL, js_unlisten, NULL, NULL, NULL, napi_default, NULL},
      {"write", NULL, js_write, NULL, NULL, NULL, napi_default, NULL},
      {"pause", NULL, js_pause, NULL, NULL, NULL, napi_default, NULL},
      {"shutdown", NULL, js_shutdown, NULL, NULL, NULL, napi_default, NULL},
      {"close", NULL, js_close, NULL, NULL, NULL, napi_default, NULL},
      {"noDelay", NULL, js_no_delay, NULL, NULL, NULL, napi_default, NULL},
      {"peer", NULL, js_peer, NULL, NULL, NULL, napi_default, NULL},
      {"reusePortSocket", NULL, js_reuse_port_socket, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof api / sizeof api[0], api);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
