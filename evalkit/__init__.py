"""evalkit: judge image codecs the way CLIC papers do.

Data flows one way: images -> metrics -> results table -> RD curves / tables / reports,
and study app -> vote store -> report.  Each stage's contract is a tidy pandas table
whose columns are documented in the module that writes it.
"""

__version__ = "0.1.0"
