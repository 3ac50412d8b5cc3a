"""The access point: aiosmtpd-based SMTP submission with PEC behaviour.

Two listeners share one :class:`Handler`:

* ``smtps``    - implicit TLS (the socket is TLS from the first byte); AUTH
  PLAIN/LOGIN is offered at once (``auth_require_tls=False`` because aiosmtpd
  only counts STARTTLS as TLS);
* ``starttls`` - plain SMTP that requires STARTTLS before anything else;
  AUTH is only advertised and accepted after STARTTLS.

On both, MAIL without AUTH is refused with ``530 5.7.0``.  Messages that fail
the formal checks are still answered ``250`` (the non-accettazione goes into
the mailbox), like real providers do.  Faults (see :mod:`pecsandbox.faults`)
are applied at each point of the dialogue; every transaction outcome is
written to ``submissions.jsonl``.
"""

import asyncio
import itertools
import logging
import os
import socket
import ssl
import warnings

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword

from .faults import RATE_LIMIT_REPLY

_session_ids = itertools.count(1)

# "Requiring AUTH while not requiring TLS": harmless here, the listener is TLS.
warnings.filterwarnings("ignore", message="Requiring AUTH while not requiring TLS")
logging.getLogger("mail.log").setLevel(logging.ERROR)


def tls_context(cert_file, key_file):
    """Server-side TLS context (TLS 1.2+) for both listeners."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(cert_file, key_file)
    return ctx


def _drop_outcome(point):
    if point == "data-body":
        return "dropped-during-data"
    if point == "data-end":
        return "dropped-after-data"
    if point == "accepted":
        return "dropped-after-accept"
    return "dropped-before-data"


class PecSMTP(SMTP):
    """aiosmtpd's SMTP with fault points, TCP_NODELAY and session bookkeeping."""

    def __init__(self, handler, *, provider, listener, **kwargs):
        super().__init__(handler, **kwargs)
        self.provider = provider
        self.info = {"id": next(_session_ids), "listener": listener}
        self._dropped = False
        self._close_after_push = False
        self.auth_decision = None   # faults decided for the AUTH in progress
        self._faults = []           # faults applied in the current transaction

    # -- transport -------------------------------------------------------------

    def connection_made(self, transport):
        first = self.transport is None
        super().connection_made(transport)
        if first:
            sock = transport.get_extra_info("socket")
            if sock is not None:
                try:
                    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                except OSError:
                    pass
            peer = transport.get_extra_info("peername")
            self.info["peer"] = "%s:%s" % peer[:2] if peer else None

    def _end(self, graceful):
        """Close the transport and leave aiosmtpd's command loop.

        Clearing ``self.transport`` makes ``_handle_client`` stop reading at
        once (instead of reading from a transport being torn down);
        ``connection_lost`` still runs afterwards and cleans up.
        """
        self._dropped = True
        transport, self.transport = self.transport, None
        if transport is None:
            return
        if graceful:
            transport.close()   # flushes what was written (e.g. a 421 reply)
        else:
            transport.abort()   # immediate, nothing more reaches the client

    def abort(self):
        """Drop the connection at once, without any further reply."""
        self._end(graceful=False)

    async def push(self, status):
        if self._dropped:
            return
        await super().push(status)
        if self._close_after_push and self.transport is not None:
            self._close_after_push = False
            self._end(graceful=True)

    def tls_note(self):
        ssl_object = self.transport.get_extra_info("ssl_object") if self.transport else None
        if ssl_object is None:
            return ""
        cipher = ssl_object.cipher()
        return ("\r\n\t(using %s with cipher %s (%d/%d bits))"
                % (ssl_object.version(), cipher[0], cipher[2], cipher[2]))

    # -- faults ------------------------------------------------------------------

    def _sender(self):
        return (self.envelope.mail_from if self.envelope and self.envelope.mail_from
                else self.info.get("auth_user"))

    async def decide(self, point, recipients=()):
        """Evaluate the faults at *point* (re-reading the control file) and
        apply their delay; return the :class:`~pecsandbox.faults.Decision`."""
        control = self.provider.control
        control.refresh()
        decision = control.evaluate(point, sender=self._sender(), recipients=recipients)
        self._faults += decision.applied
        if decision.delay:
            await asyncio.sleep(decision.delay)
        return decision

    def take_faults(self):
        """The faults applied so far in this transaction (and forget them)."""
        faults, self._faults = self._faults, []
        return faults

    def log_fault(self, point, decision, accepted=False, result=None):
        """Write the submissions-log line of a transaction ended by a fault."""
        outcome = (_drop_outcome(point) if decision.drop
                   else "fault-%d" % decision.fault.code)
        env = self.envelope
        self.provider.log_submission(
            self.info, outcome, accepted, mail_from=env.mail_from if env else None,
            rcpt_to=env.rcpt_tos if env else (), result=result, at=point,
            faults=self.take_faults(), reason=decision.reply)

    async def apply(self, point, recipients=()):
        """Run the faults of a command; True when the command was consumed."""
        decision = await self.decide(point, recipients)
        if decision.fault is None:
            return False
        self.log_fault(point, decision)
        if decision.drop:
            self.abort()
        else:
            if decision.fault.code == 421:
                self._close_after_push = True
            await self.push(decision.reply)
        return True

    # -- dialogue ----------------------------------------------------------------

    async def _handle_client(self):
        if await self.apply("connect"):
            if not self._dropped:
                self._end(graceful=True)
            return
        await super()._handle_client()

    async def smtp_EHLO(self, hostname):
        if hostname and await self.apply("ehlo"):
            return
        await super().smtp_EHLO(hostname)
        self.info["helo"] = self.session.host_name

    async def smtp_AUTH(self, arg):
        eligible = (arg and self.session.extended_smtp and not self.session.authenticated
                    and (not self._auth_require_tls or self._tls_protocol))
        self.auth_decision = await self.decide("auth") if eligible else None
        await super().smtp_AUTH(arg)
        self.auth_decision = None

    async def smtp_MAIL(self, arg):
        if self.session.authenticated and self.session.host_name:
            if await self.apply("mail"):
                return
        await super().smtp_MAIL(arg)

    async def smtp_RCPT(self, arg):
        if self.session.authenticated and self.envelope.mail_from and arg:
            rest = self._strip_command_keyword("TO:", arg)
            address = self._getaddr(rest)[0] if rest else None
            if address and await self.apply("rcpt", [address]):
                return
        await super().smtp_RCPT(arg)

    async def smtp_DATA(self, arg):
        ready = (self.session.host_name and self.session.authenticated
                 and self.envelope.rcpt_tos and not arg)
        if not ready:
            return await super().smtp_DATA(arg)
        rcpts = list(self.envelope.rcpt_tos)
        if await self.apply("data", rcpts):
            return
        decision = await self.decide("data-body", rcpts)
        if decision.drop:
            await self.push("354 End data with <CR><LF>.<CR><LF>")
            try:
                await asyncio.wait_for(self._reader.readuntil(b"\r\n"), timeout=30)
            except (asyncio.TimeoutError, asyncio.IncompleteReadError,
                    asyncio.LimitOverrunError, ConnectionError):
                pass
            self.log_fault("data-body", decision)
            self.abort()
            return
        await super().smtp_DATA(arg)


class Handler:
    """aiosmtpd hooks: rate limit at MAIL, provider processing at DATA."""

    def __init__(self, provider):
        self.provider = provider

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        if self.provider.control.rate_limited(server.info.get("auth_user") or address):
            self.provider.log_submission(server.info, "rate-limited", False, mail_from=address,
                                         at="mail", reason=RATE_LIMIT_REPLY,
                                         faults=server.take_faults())
            return RATE_LIMIT_REPLY
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 2.1.0 Ok"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 2.1.5 Ok"

    async def handle_DATA(self, server, session, envelope):
        rcpts = list(envelope.rcpt_tos)
        decision = await server.decide("data-end", rcpts)
        if decision.fault is not None:
            server.log_fault("data-end", decision)
            if decision.drop:
                server.abort()
                return "451 dropped"  # never sent: the connection is gone
            if decision.fault.code == 421:
                server._close_after_push = True
            return decision.reply

        queue_id = os.urandom(6).hex().upper()
        server.info["queue_id"] = queue_id
        server.info["tls_note"] = server.tls_note()
        loop = asyncio.get_running_loop()
        result = await loop.run_in_executor(
            None, self.provider.submit, dict(server.info), envelope.mail_from, rcpts,
            envelope.original_content)

        if result.accepted:
            decision = await server.decide("accepted", rcpts)
            if decision.fault is not None:
                server.log_fault("accepted", decision, accepted=True, result=result)
                if decision.drop:
                    server.abort()
                    return "451 dropped"  # never sent
                if decision.fault.code == 421:
                    server._close_after_push = True
                return decision.reply
        self.provider.log_submission(server.info, result.outcome, result.accepted,
                                     mail_from=envelope.mail_from, rcpt_to=rcpts,
                                     result=result, faults=server.take_faults())
        return "250 2.0.0 Ok: queued as %s" % queue_id


def make_authenticator(provider):
    """aiosmtpd authenticator checking the sandbox accounts (PLAIN and LOGIN)."""

    def authenticator(server, session, envelope, mechanism, auth_data):
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        login = auth_data.login.decode("utf-8", "replace")
        password = auth_data.password.decode("utf-8", "replace")
        decision = server.auth_decision
        if decision is not None and decision.fault is not None:
            server.log_fault("auth", decision)
            if decision.drop:
                server.abort()
                return AuthResult(success=False, handled=True)
            if decision.fault.code == 421:
                server._close_after_push = True
            return AuthResult(success=False, handled=False, message=decision.reply)
        account = provider.authenticate(login, password)
        if account is None:
            return AuthResult(success=False, handled=False)
        server.info["auth_user"] = account
        return AuthResult(success=True, auth_data=account)

    return authenticator


async def start_servers(provider, config, smtps_sock, starttls_sock, ctx):
    """Start both listeners on already-bound sockets; return the asyncio servers."""
    loop = asyncio.get_running_loop()
    handler = Handler(provider)
    authenticator = make_authenticator(provider)
    hostname = "smtps.%s" % config.domain
    common = dict(provider=provider, hostname=hostname, ident="ESMTP pec-sandbox",
                  authenticator=authenticator, auth_required=True,
                  data_size_limit=config.smtp_max_bytes, enable_SMTPUTF8=True, loop=loop)

    def smtps():
        return PecSMTP(handler, listener="smtps", auth_require_tls=False, **common)

    def starttls():
        return PecSMTP(handler, listener="starttls", tls_context=ctx, require_starttls=True,
                       auth_require_tls=True, **common)

    servers = [await loop.create_server(smtps, sock=smtps_sock, ssl=ctx),
               await loop.create_server(starttls, sock=starttls_sock)]
    return servers
