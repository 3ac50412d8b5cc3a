"""pec-sandbox: a local simulated PEC (Posta Elettronica Certificata) provider.

The sandbox behaves, as far as a sending client can see, like a real Italian
PEC provider: an authenticated SMTP submission service (SMTPS and STARTTLS)
that runs the formal checks of the PEC rules, and a real Dovecot IMAPS server
holding the sender's mailbox, into which signed S/MIME receipts
(accettazione, avvenuta-consegna, errore-consegna, preavvisi...) are
delivered.  See ``docs/sandbox.md`` in the pecbatch repository.

Modules:

* :mod:`pecsandbox.config`    - configuration format, defaults, recipient rules
* :mod:`pecsandbox.ca`        - the sandbox PKI (root, "AgID CA1" stand-in, TLS, signer)
* :mod:`pecsandbox.mimeutil`  - byte-exact MIME building helpers
* :mod:`pecsandbox.message`   - parsing of submitted messages, postacert/breve rewriting
* :mod:`pecsandbox.checks`    - formal checks and virus scan of the access point
* :mod:`pecsandbox.daticert`  - the ``daticert.xml`` builder
* :mod:`pecsandbox.smime`     - detached CMS signing and ``multipart/signed`` wrapping
* :mod:`pecsandbox.receipts`  - receipts, notices and envelopes
* :mod:`pecsandbox.maildir`   - atomic Maildir delivery
* :mod:`pecsandbox.dovecot`   - Dovecot configuration and process control
* :mod:`pecsandbox.faults`    - fault injection, control file, rate limiting
* :mod:`pecsandbox.scheduler` - delayed events on the compressed clock
* :mod:`pecsandbox.provider`  - the provider logic tying everything together
* :mod:`pecsandbox.smtp`      - the aiosmtpd-based access point
* :mod:`pecsandbox.daemon`    - the background process serving SMTP
* :mod:`pecsandbox.cli`       - ``pec-sandbox start|stop|status``
"""

__version__ = "1.0.0"
