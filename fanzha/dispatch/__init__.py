"""Dispatch (pure): the org tree, routing, level policies and SLAs, the instruction state
machine, structured outcomes and their effects, and the escalation scheduler.

Nothing here does I/O: persistence sits behind :class:`fanzha.dispatch.repo.InstructionRepo`
(in memory here, SQL in :mod:`fanzha.store.instructions`), time comes from a
:class:`fanzha.model.clock.Clock`, and :mod:`fanzha.dispatching` wires it to the store.
"""
