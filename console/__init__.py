"""The station side: the headless station service and the Textual duty console."""
