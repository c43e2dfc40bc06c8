"""Resources own all I/O: the warehouse, the usage source (landing files) and the CRM clients."""
