"""The ``daticert.xml`` certification data (PROTOCOL.md section 4).

The element order follows the DTD of the technical rules:
``postacert(intestazione, dati)``, ``intestazione(mittente, destinatari+,
risposte, oggetto?)``, ``dati(gestore-emittente, data, identificativo,
msgid?, ricevuta?, consegna?, ricezione*, errore-esteso?)``.  The textual
layout (XML declaration, four-space indentation, ``<ricevuta tipo="..." />``)
copies the real Aruba receipts.
"""

from xml.sax.saxutils import escape, quoteattr

TIPI = ("accettazione", "non-accettazione", "presa-in-carico", "avvenuta-consegna",
        "posta-certificata", "errore-consegna", "preavviso-errore-consegna",
        "rilevazione-virus")
ERRORI = ("nessuno", "no-dest", "no-dominio", "virus", "altro")
FLAVOURS = ("completa", "breve", "sintetica")


def format_data(when):
    """Split an aware datetime into daticert's (zona, giorno, ora).

    ``zona`` is the UTC offset as ``+hhmm``/``-hhmm``; ``giorno`` is
    ``dd/mm/yyyy``; ``ora`` is ``hh:mm:ss`` in local time.
    """
    if when.tzinfo is None or when.utcoffset() is None:
        raise ValueError("daticert times must be timezone-aware")
    return when.strftime("%z"), when.strftime("%d/%m/%Y"), when.strftime("%H:%M:%S")


class Daticert:
    """Certification data of one receipt, notice or envelope."""

    def __init__(self, tipo, *, mittente, destinatari, risposte, gestore, when,
                 identificativo, oggetto=None, msgid=None, errore="nessuno",
                 ricevuta=None, consegna=None, ricezione=(), errore_esteso=None):
        if tipo not in TIPI:
            raise ValueError("unknown daticert tipo %r" % tipo)
        if errore not in ERRORI:
            raise ValueError("unknown daticert errore %r" % errore)
        if ricevuta is not None and ricevuta not in FLAVOURS:
            raise ValueError("unknown ricevuta tipo %r" % ricevuta)
        self.tipo = tipo
        self.errore = errore
        self.mittente = mittente
        self.destinatari = list(destinatari)  # [(address, "certificato"|"esterno")]
        self.risposte = risposte
        self.oggetto = oggetto
        self.gestore = gestore
        self.when = when
        self.identificativo = identificativo
        self.msgid = msgid
        self.ricevuta = ricevuta
        self.consegna = consegna
        self.ricezione = list(ricezione)
        self.errore_esteso = errore_esteso

    def to_xml(self):
        """Serialise to UTF-8 bytes (LF line endings, like the real files)."""
        zona, giorno, ora = format_data(self.when)
        i1, i2, i3 = " " * 4, " " * 8, " " * 12
        out = ['<?xml version="1.0" encoding="UTF-8"?>',
               "<postacert tipo=%s errore=%s>" % (quoteattr(self.tipo), quoteattr(self.errore)),
               i1 + "<intestazione>",
               i2 + "<mittente>%s</mittente>" % escape(self.mittente)]
        for address, tipo in self.destinatari:
            out.append(i2 + "<destinatari tipo=%s>%s</destinatari>"
                       % (quoteattr(tipo), escape(address)))
        out.append(i2 + "<risposte>%s</risposte>" % escape(self.risposte))
        if self.oggetto is not None:
            out.append(i2 + "<oggetto>%s</oggetto>" % escape(self.oggetto))
        out += [i1 + "</intestazione>",
                i1 + "<dati>",
                i2 + "<gestore-emittente>%s</gestore-emittente>" % escape(self.gestore),
                i2 + "<data zona=%s>" % quoteattr(zona),
                i3 + "<giorno>%s</giorno>" % giorno,
                i3 + "<ora>%s</ora>" % ora,
                i2 + "</data>",
                i2 + "<identificativo>%s</identificativo>" % escape(self.identificativo)]
        if self.msgid is not None:
            out.append(i2 + "<msgid>%s</msgid>" % escape(self.msgid))
        if self.ricevuta is not None:
            out.append(i2 + "<ricevuta tipo=%s />" % quoteattr(self.ricevuta))
        if self.consegna is not None:
            out.append(i2 + "<consegna>%s</consegna>" % escape(self.consegna))
        for address in self.ricezione:
            out.append(i2 + "<ricezione>%s</ricezione>" % escape(address))
        if self.errore_esteso is not None:
            out.append(i2 + "<errore-esteso>%s</errore-esteso>" % escape(self.errore_esteso))
        out += [i1 + "</dati>", "</postacert>", ""]
        return "\n".join(out).encode("utf-8")
