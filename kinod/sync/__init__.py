"""Dual-system sound and multicam: camera clips paired with recorder takes and with each other.

:mod:`.sources` reads what files say (start TC, bext/iXML, slate), :mod:`.pairing` decides
which take belongs to which clip (timecode, slate, waveform), :mod:`.align` places a pair
to the sample, :mod:`.multicam` groups cameras that rolled together, and :mod:`.session`
runs all of it over a scope and delivers the results (sidecar block, card report table,
FCPXML, FCP7 XML, OTIO).
"""
