"""Human-readable texts of receipts, notices and envelopes (Italian).

The texts follow the models of RFC 6109 section 3 and the shape of the real
Aruba receipts (title, date/time/zone, subject, sender, recipients, event,
PEC identifier).  They are informative only: clients must parse
``daticert.xml``.  Each function returns ``(title, [plain lines], [html
lines])``; :mod:`pecsandbox.receipts` turns them into a
``multipart/alternative`` part.
"""

from html import escape


def _when(info):
    return "Il giorno %s alle ore %s (%s)" % (info["giorno"], info["ora"], info["zona"])


def _note_flavour(flavour, attached):
    if not attached:
        return []
    if flavour == "breve":
        return ["Il messaggio originale è incluso in allegato (file \"postacert.eml\"):",
                "gli allegati sono stati sostituiti dai rispettivi hash SHA-1 (file \".hash\")."]
    return ["Il messaggio originale è incluso in allegato, per aprirlo aprire il file",
            "\"postacert.eml\"."]


def _label(tipo):
    return "posta certificata" if tipo == "certificato" else "posta ordinaria"


def accettazione(info):
    title = "Ricevuta di accettazione"
    rcpts = ["%s (\"%s\")" % (a, _label(t)) for a, t in info["destinatari"]]
    plain = ["%s il messaggio con Oggetto" % _when(info),
             "\"%s\" inviato da \"%s\"" % (info["oggetto"], info["mittente"]),
             "ed indirizzato a:"] + rcpts + [
             "è stato accettato dal sistema ed inoltrato.",
             "Identificativo del messaggio: %s" % info["identificativo"],
             "L'allegato daticert.xml contiene informazioni di servizio sulla trasmissione"]
    html = ["%s il messaggio" % _when(info),
            "&quot;%s&quot; proveniente da &quot;%s&quot;" % (escape(info["oggetto"]),
                                                             escape(info["mittente"])),
            "ed indirizzato a:"] + [escape(r) for r in rcpts] + [
            "Il messaggio &egrave; stato accettato dal sistema ed inoltrato.",
            "Identificativo messaggio: %s" % escape(info["identificativo"])]
    return title, plain, html


def non_accettazione(info, reason, virus=None):
    title = "Avviso di non accettazione per virus" if virus else "Avviso di non accettazione"
    rcpts = [a for a, _ in info["destinatari"]]
    problem = ("è stato rilevato un problema di sicurezza (%s)." % virus if virus
               else "è stato rilevato un problema che ne impedisce l'accettazione:")
    plain = ["%s nel messaggio con Oggetto" % _when(info),
             "\"%s\" inviato da \"%s\"" % (info["oggetto"], info["mittente"]),
             "ed indirizzato a:"] + rcpts + [problem]
    if not virus:
        plain.append(reason)
    plain += ["Il messaggio non è stato accettato.",
              "Identificativo del messaggio: %s" % info["identificativo"]]
    html = ["%s nel messaggio" % _when(info),
            "&quot;%s&quot; proveniente da &quot;%s&quot;" % (escape(info["oggetto"]),
                                                             escape(info["mittente"])),
            "ed indirizzato a:"] + [escape(r) for r in rcpts] + [escape(problem)]
    if not virus:
        html.append("<b>%s</b>" % escape(reason))
    html += ["Il messaggio non &egrave; stato accettato.",
             "Identificativo messaggio: %s" % escape(info["identificativo"])]
    return title, plain, html


def avvenuta_consegna(info, recipient, flavour, attached):
    title = "Ricevuta di avvenuta consegna"
    plain = ["%s il messaggio con Oggetto" % _when(info),
             "\"%s\" inviato da \"%s\"" % (info["oggetto"], info["mittente"]),
             "ed indirizzato a \"%s\"" % recipient,
             "è stato correttamente consegnato al destinatario.",
             "Identificativo del messaggio: %s" % info["identificativo"]]
    plain += _note_flavour(flavour, attached)
    plain.append("L'allegato daticert.xml contiene informazioni di servizio sulla trasmissione")
    html = ["%s il messaggio" % _when(info),
            "&quot;%s&quot; proveniente da &quot;%s&quot;" % (escape(info["oggetto"]),
                                                             escape(info["mittente"])),
            "ed indirizzato a &quot;%s&quot;" % escape(recipient),
            "&egrave; stato consegnato nella casella di destinazione.",
            "Identificativo messaggio: %s" % escape(info["identificativo"])]
    return title, plain, html


def errore_consegna(info, recipient, esteso, virus=None):
    title = "Avviso di mancata consegna per virus" if virus else "Avviso di mancata consegna"
    plain = ["%s nel messaggio con Oggetto" % _when(info),
             "\"%s\" inviato da \"%s\"" % (info["oggetto"], info["mittente"]),
             "e destinato all'utente",
             "\"%s\"" % recipient]
    if virus:
        plain += ["è stato rilevato un problema di sicurezza (%s):" % virus, esteso,
                  "Il messaggio non è stato consegnato."]
    else:
        plain += ["è stato rilevato il seguente errore:", esteso,
                  "Il messaggio è stato rifiutato dal sistema."]
    plain.append("Identificativo del messaggio: %s" % info["identificativo"])
    html = ["%s nel messaggio" % _when(info),
            "&quot;%s&quot; proveniente da &quot;%s&quot;" % (escape(info["oggetto"]),
                                                             escape(info["mittente"])),
            "e destinato all'utente &quot;%s&quot;" % escape(recipient),
            "&egrave; stato rilevato un errore: <b>%s</b>" % escape(esteso),
            ("Il messaggio non &egrave; stato consegnato." if virus
             else "Il messaggio &egrave; stato rifiutato dal sistema."),
            "Identificativo messaggio: %s" % escape(info["identificativo"])]
    return title, plain, html


def preavviso(info, recipient, esteso, final):
    title = "Avviso di mancata consegna per superamento tempo massimo"
    if final:
        event = ["non è stato consegnato nelle prime ventiquattro ore dal suo invio.",
                 "La trasmissione è da considerarsi non andata a buon fine.",
                 esteso]
    else:
        event = ["non è stato ancora consegnato nelle prime dodici ore dal suo invio.",
                 "Non si esclude che il messaggio possa essere consegnato in seguito,",
                 "ma è opportuno considerare che l'invio potrebbe non andare a buon fine.",
                 "Il sistema invierà un ulteriore avviso se nelle successive dodici ore",
                 "non riceverà conferma della consegna.",
                 esteso]
    plain = ["%s il messaggio con Oggetto" % _when(info),
             "\"%s\" inviato da \"%s\"" % (info["oggetto"], info["mittente"]),
             "ed indirizzato a \"%s\"" % recipient] + event + [
             "Identificativo del messaggio: %s" % info["identificativo"]]
    html = ["%s il messaggio" % _when(info),
            "&quot;%s&quot; proveniente da &quot;%s&quot;" % (escape(info["oggetto"]),
                                                             escape(info["mittente"])),
            "ed indirizzato a &quot;%s&quot;" % escape(recipient)] + [
            escape(line) for line in event] + [
            "Identificativo messaggio: %s" % escape(info["identificativo"])]
    return title, plain, html


def trasporto(info):
    title = "Messaggio di posta certificata"
    rcpts = [a for a, _ in info["destinatari"]]
    plain = ["%s il messaggio" % _when(info),
             "\"%s\" è stato inviato da \"%s\"" % (info["oggetto"], info["mittente"]),
             "indirizzato a:"] + rcpts + [
             "Il messaggio originale è incluso in allegato.",
             "Identificativo messaggio: %s" % info["identificativo"]]
    html = ["%s il messaggio" % _when(info),
            "&quot;%s&quot; &egrave; stato inviato da &quot;%s&quot;" % (
                escape(info["oggetto"]), escape(info["mittente"])),
            "indirizzato a:"] + [escape(r) for r in rcpts] + [
            "Il messaggio originale &egrave; incluso in allegato.",
            "Identificativo messaggio: %s" % escape(info["identificativo"])]
    return title, plain, html


def anomalia(info):
    title = "Anomalia nel messaggio"
    plain = ["%s è stato ricevuto" % _when(info),
             "il messaggio \"%s\" proveniente da \"%s\"," % (info["oggetto"], info["mittente"]),
             "indirizzato a:"] + [a for a, _ in info["destinatari"]] + [
             "Tali dati non sono stati certificati per il seguente errore:",
             "il messaggio non proviene da un gestore di posta certificata.",
             "Il messaggio originale è incluso in allegato."]
    html = [escape(line) for line in plain]
    return title, plain, html
