"""Run the pipeline on one machine: resources from template.yaml on moto, and a faithful runner of
Lambda's stream event source mappings driving the real handlers in process."""
