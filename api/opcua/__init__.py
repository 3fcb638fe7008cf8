"""Sorting results for line PLCs over OPC UA Machine Vision (OPC 40100-1), beside the HTTP service.

A companion process (``python -m api.opcua``, started by ``aluloop serve --opcua-endpoint``)
follows the committed piece records in the database and publishes each as a MachineVision result
and a ``ResultReadyEvent`` on its line's ``VisionSystemType`` object. It keeps no state the HTTP
workers need, so any number of workers (or hosts) can write records while one bridge reads them.
"""
